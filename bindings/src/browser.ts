// Browser (and default) entry: fetches the .wasm next to the package's
// dist/ and instantiates it before the module finishes loading.

import { init } from "./init.js";

await init(new URL("../wasm/reportflow_wasm_bg.wasm", import.meta.url));

export * from "./index.js";
