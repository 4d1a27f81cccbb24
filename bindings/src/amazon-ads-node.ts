// Node entry of `reportflow/amazon-ads`: the facade over a module with amazon-ads
// alone and no charset decoders (its reports are UTF-8). Import one entry
// per process: the entries share the facade, which loads one module.

import { loadForNode } from "./node-load.js";

loadForNode(new URL("../wasm/reportflow_amazon_ads_bg.wasm", import.meta.url));

export * from "./index.js";
