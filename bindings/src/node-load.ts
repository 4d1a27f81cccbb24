// What every Node entry does with its module: load the .wasm next to the
// package synchronously (Node's fetch refuses file: URLs), lend its jobs
// encoding_rs's charset decoders, and prefer real manual redirects.

import { readFileSync } from "node:fs";
import { initSync as initCharsets, CharsetDecoder } from "../wasm/reportflow_charsets.js";
import { useCharsetBackend } from "./charsets-hook.js";
import { initSync, platform } from "./init.js";

/** Loads the production module at `file` (a `file:` URL) into the facade. */
export function loadForNode(file: URL): void {
  initSync(readFileSync(file));
  // Node's TextDecoder is ICU's, not the WHATWG Shift_JIS (it permutes
  // three control bytes and replaces malformed input differently): jobs
  // borrow encoding_rs, the decoders of a native build, from a module of
  // their own (about 120 KB gzip, which Node reads from disk).
  initCharsets({ module: readFileSync(new URL("../wasm/reportflow_charsets_bg.wasm", import.meta.url)) });
  useCharsetBackend((label) => {
    const decoder = new CharsetDecoder(label);
    return { decode: (bytes, last) => decoder.decode(bytes, last), close: () => decoder.free() };
  });
  // Node's fetch (undici) hands back a readable 307 for redirect "manual",
  // so the job sees the presigned link and fetches it without credentials.
  platform.manualRedirect = "manual";
}
