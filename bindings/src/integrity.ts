// The integrity helpers on their own: gzip, MD5, CRC-32.

import * as wasm from "../wasm/reportflow_wasm.js";
import type { DecodeStats, GunzipStats } from "../wasm/reportflow_wasm.js";
import { ReportflowError } from "./errors.js";
import { ensureInitialised } from "./init.js";

function call<T>(f: () => T): T {
  ensureInitialised();
  try {
    return f();
  } catch (error) {
    throw ReportflowError.from(error);
  }
}

/**
 * Decodes a whole gzip body (concatenated members allowed), checking every
 * CRC-32 and size. Throws `ReportflowError` (code `gzip`, blame `data`) on
 * corrupt or truncated input, or past `maxDecompressedBytes`.
 */
export function gunzip(bytes: Uint8Array, maxDecompressedBytes?: number): Uint8Array {
  return call(() => wasm.gunzip(bytes, maxDecompressedBytes));
}

/**
 * Streaming gzip decoder with bounded memory: `push` compressed chunks in
 * order (each call returns what it decoded), then `finish()` to verify the
 * end. Output is provisional until `finish` returns.
 */
export class Gunzip {
  #inner: wasm.Gunzip;

  constructor(maxDecompressedBytes?: number) {
    this.#inner = call(() => new wasm.Gunzip(maxDecompressedBytes));
  }

  push(bytes: Uint8Array): Uint8Array {
    return call(() => this.#inner.push(bytes));
  }

  finish(): GunzipStats {
    return call(() => this.#inner.finish());
  }

  free(): void {
    this.#inner.free();
  }
}

/** Options of a {@link Decoder}. */
export interface DecoderOptions {
  /** The digest the provider published (hex or base64 `Content-MD5`): checked at `finish`. */
  expectedMd5?: string;
  maxDecompressedBytes?: number;
  /** Compute the MD5 without an expected digest (default true). */
  fingerprint?: boolean;
}

/**
 * The download pipeline a job runs, on its own: MD5 of the raw bytes, gzip
 * detected from the bytes and decoded with CRC-32/ISIZE checks, limits.
 * `push` raw chunks in order (each call returns what it decoded), then
 * `finish()`. Output is provisional until `finish` returns.
 */
export class Decoder {
  #inner: wasm.Decoder;

  constructor(options: DecoderOptions = {}) {
    this.#inner = call(() => new wasm.Decoder(options.expectedMd5, options.maxDecompressedBytes, options.fingerprint));
  }

  push(bytes: Uint8Array): Uint8Array {
    return call(() => this.#inner.push(bytes));
  }

  finish(): DecodeStats {
    return call(() => this.#inner.finish());
  }

  free(): void {
    this.#inner.free();
  }
}

/** Lowercase hex MD5. */
export function md5Hex(bytes: Uint8Array): string {
  return call(() => wasm.md5Hex(bytes));
}

/** Base64 MD5, as in `Content-MD5`. */
export function md5Base64(bytes: Uint8Array): string {
  return call(() => wasm.md5Base64(bytes));
}

/** CRC-32 (IEEE) as an unsigned number. */
export function crc32(bytes: Uint8Array): number {
  return call(() => wasm.crc32(bytes));
}
