// Node entry: loads the .wasm next to the package synchronously (Node's
// fetch refuses file: URLs) and prefers real manual redirects.

import { readFileSync } from "node:fs";
import { initSync, platform } from "./init.js";

initSync(readFileSync(new URL("../wasm/reportflow_wasm_bg.wasm", import.meta.url)));
// Node's fetch (undici) hands back a readable 307 for redirect "manual", so
// the job sees the presigned link and fetches it without credentials itself.
platform.manualRedirect = "manual";

export * from "./index.js";
