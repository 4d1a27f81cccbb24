// Node entry: every provider, with the charset decoders.

import { loadForNode } from "./node-load.js";

loadForNode(new URL("../wasm/reportflow_wasm_bg.wasm", import.meta.url));

export * from "./index.js";
