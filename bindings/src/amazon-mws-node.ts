// Node entry of `reportflow/amazon-mws`: the facade over a module with amazon-mws
// alone. Like every Node entry it lends its jobs encoding_rs's charset
// decoders (node-load.ts). Import one entry per process: the entries share
// the facade, which loads one module.

import { loadForNode } from "./node-load.js";

loadForNode(new URL("../wasm/reportflow_amazon_mws_bg.wasm", import.meta.url));

export * from "./index.js";
