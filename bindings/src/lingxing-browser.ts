// Browser (and default) entry of `reportflow/lingxing`: the facade over a
// module with lingxing alone; reports in a legacy charset are decoded by the
// page's TextDecoder (charsets-hook.ts). Import one entry per page: the
// entries share the facade, which loads one module.

import { init } from "./init.js";

await init(new URL("../wasm/reportflow_lingxing_bg.wasm", import.meta.url));

export * from "./index.js";
