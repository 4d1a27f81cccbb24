// The charset decoders the production module's jobs borrow. The module is
// built without encoding_rs (about 120 KB gzip of tables); a report in
// Shift_JIS, windows-1252 or UTF-16 is decoded by the decoder registered
// here, which the wasm side calls through its glue (wasm/src/charsets.rs):
//
// - browsers: the platform's `TextDecoder`, the WHATWG Encoding Standard
//   that encoding_rs implements (test/browser.test.ts checks it against
//   encoding_rs on every one- and two-byte input);
// - Node: encoding_rs itself, as a small wasm module of its own
//   (node-load.ts), because Node's ICU-based `TextDecoder` is not the
//   standard's Shift_JIS (README, "Size of the npm package").
//
// The job strips a byte order mark before the bytes get here, and decodes
// ISO-8859-1 itself; these decoders only convert.

/** One body's streaming decoder to UTF-8 (malformed input becomes U+FFFD). */
export interface CharsetStream {
  /** The next part of the body; `last` for the final one. */
  decode(bytes: Uint8Array, last: boolean): string;
  /** Releases what the decoder holds. */
  close?(): void;
}

/** Opens a decoder for a WHATWG label (`shift_jis`, `windows-1252`, `utf-16`, `utf-16be`, `utf-8`). */
export type CharsetBackend = (label: string) => CharsetStream;

/** The platform's `TextDecoder`, without BOM handling (the job did it). */
export const textDecoderBackend: CharsetBackend = (label) => {
  const decoder = new TextDecoder(label, { ignoreBOM: true });
  return { decode: (bytes, last) => decoder.decode(bytes, { stream: !last }) };
};

let backend: CharsetBackend = textDecoderBackend;

/** Chooses the decoders jobs borrow from now on (an entry does this once). */
export function useCharsetBackend(chosen: CharsetBackend): void {
  backend = chosen;
}

// Open decoders by handle, or why one could not be opened (thrown when it
// is first used, so that the job fails the report with a typed error).
const open = new Map<number, CharsetStream | { failure: unknown }>();
let nextHandle = 1;

/** Called by the wasm glue: a handle to a new decoder for `label`. */
export function openCharsetDecoder(label: string): number {
  const handle = nextHandle++;
  try {
    open.set(handle, backend(label));
  } catch (failure) {
    open.set(handle, { failure });
  }
  return handle;
}

/** Called by the wasm glue: decodes with the decoder behind `handle`. */
export function decodeCharset(handle: number, bytes: Uint8Array, last: boolean): string {
  const decoder = open.get(handle);
  if (decoder === undefined) throw new Error(`charset decoder ${handle} is not open`);
  if ("failure" in decoder) throw decoder.failure;
  return decoder.decode(bytes, last);
}

/** Called by the wasm glue when the job drops the decoder. */
export function closeCharsetDecoder(handle: number): void {
  const decoder = open.get(handle);
  open.delete(handle);
  if (decoder !== undefined && !("failure" in decoder)) decoder.close?.();
}
