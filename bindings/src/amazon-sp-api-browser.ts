// Browser (and default) entry of `reportflow/amazon-sp-api`: the facade over a
// module with amazon-sp-api alone; reports in a legacy charset are decoded by the
// page's TextDecoder (charsets-hook.ts). Import one entry per page: the
// entries share the facade, which loads one module.

import { init } from "./init.js";

await init(new URL("../wasm/reportflow_amazon_sp_api_bg.wasm", import.meta.url));

export * from "./index.js";
