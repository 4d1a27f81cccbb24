// Node entry of `reportflow/amazon-sp-api`: the facade over a module with amazon-sp-api
// alone. Like every Node entry it lends its jobs encoding_rs's charset
// decoders (node-load.ts). Import one entry per process: the entries share
// the facade, which loads one module.

import { loadForNode } from "./node-load.js";

loadForNode(new URL("../wasm/reportflow_amazon_sp_api_bg.wasm", import.meta.url));

export * from "./index.js";
