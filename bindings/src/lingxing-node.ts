// Node entry of `reportflow/lingxing`: the facade over a module with lingxing
// alone. Like every Node entry it lends its jobs encoding_rs's charset
// decoders (node-load.ts). Import one entry per process: the entries share
// the facade, which loads one module.

import { loadForNode } from "./node-load.js";

loadForNode(new URL("../wasm/reportflow_lingxing_bg.wasm", import.meta.url));

export * from "./index.js";
