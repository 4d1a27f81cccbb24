// Browser (and default) entry of `reportflow/amazon-ads`: the facade over a
// module with amazon-ads alone; reports in a legacy charset are decoded by the
// page's TextDecoder (charsets-hook.ts). Import one entry per page: the
// entries share the facade, which loads one module.

import { init } from "./init.js";

await init(new URL("../wasm/reportflow_amazon_ads_bg.wasm", import.meta.url));

export * from "./index.js";
