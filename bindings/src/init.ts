// Loading the one wasm module (built with `wasm-bindgen --target web`).

import initWasm, { initSync as initWasmSync } from "../wasm/reportflow_wasm.js";
import { notInitialised } from "./errors.js";

let ready = false;

/** Whether the wasm module is loaded. */
export function isInitialised(): boolean {
  return ready;
}

/**
 * Loads the wasm module from its bytes or a compiled module, synchronously.
 * The Node entry does this on import; call it yourself only with a custom
 * loader. Calling it again is a no-op.
 */
export function initSync(module: BufferSource | WebAssembly.Module): void {
  if (ready) return;
  initWasmSync({ module });
  ready = true;
}

/**
 * Loads the wasm module from a URL, a `Response`, bytes or a compiled module.
 * The browser entry does this on import (with the `.wasm` file next to the
 * package's `dist/`); calling it again is a no-op.
 */
export async function init(source?: URL | string | Response | BufferSource | WebAssembly.Module): Promise<void> {
  if (ready) return;
  await initWasm(source === undefined ? undefined : { module_or_path: source });
  ready = true;
}

/** Throws `not_initialised` until the module is loaded. */
export function ensureInitialised(): void {
  if (!ready) throw notInitialised();
}

/** What the entry point knows about its platform. */
export const platform: { manualRedirect: "manual" | "follow" } = {
  // Browsers cannot read a 3xx (redirect "manual" yields an opaque
  // response), so by default a `redirect: "manual"` request is followed; the
  // browser drops Authorization on a cross-origin hop and the job accepts
  // the final answer. The Node entry switches this to "manual".
  manualRedirect: "follow",
};
