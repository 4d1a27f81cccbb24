// What every Node entry does with its module: load the .wasm next to the
// package synchronously (Node's fetch refuses file: URLs) and prefer real
// manual redirects.

import { readFileSync } from "node:fs";
import { initSync, platform } from "./init.js";

/** Loads the production module at `file` (a `file:` URL) into the facade. */
export function loadForNode(file: URL): void {
  initSync(readFileSync(file));
  // Node's fetch (undici) hands back a readable 307 for redirect "manual",
  // so the job sees the presigned link and fetches it without credentials.
  platform.manualRedirect = "manual";
}
