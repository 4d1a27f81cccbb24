// In Node the production module's jobs borrow encoding_rs (the charset
// module) rather than Node's TextDecoder, which is ICU's and not the WHATWG
// Shift_JIS. Checked through the same hook the wasm glue calls.

import { test } from "node:test";
import assert from "node:assert/strict";
import "reportflow";

// The hook the glue imports (wasm/reportflow_wasm.js → ../dist/), by URL so
// that it is the same module instance as the entry's (this file runs from
// build/test/).
const { closeCharsetDecoder, decodeCharset, openCharsetDecoder } = (await import(
  new URL("../../dist/charsets-hook.js", import.meta.url).href
)) as typeof import("../dist/charsets-hook.js");

function lent(label: string, bytes: number[]): string {
  const handle = openCharsetDecoder(label);
  try {
    return decodeCharset(handle, Uint8Array.from(bytes), true);
  } finally {
    closeCharsetDecoder(handle);
  }
}

test("the Node entry lends encoding_rs: WHATWG Shift_JIS where Node's TextDecoder is not", () => {
  // WHATWG: 1A, 1C and 7F are themselves, 80 is U+0080, and an ASCII byte
  // that cannot trail a lead byte is kept after the U+FFFD.
  const bytes = [0x1a, 0x1c, 0x7f, 0x80, 0x81, 0x20];
  const whatwg = "\u001a\u001c\u007f\u0080\ufffd ";
  assert.equal(lent("shift_jis", bytes), whatwg);
  const icu = new TextDecoder("shift_jis").decode(Uint8Array.from(bytes));
  assert.notEqual(icu, whatwg, "Node's TextDecoder still differs: if it now matches, the charset module could go");
  assert.equal(lent("windows-1252", [0x80, 0x81, 0x9d, 0xe9]), "€\u0081\u009dé");
  assert.equal(lent("utf-16be", [0x00, 0x41, 0xd8]), "A\ufffd");
});

test("a charset the platform has no decoder for fails when used, not when opened", () => {
  const handle = openCharsetDecoder("no-such-charset");
  try {
    assert.throws(() => decodeCharset(handle, Uint8Array.of(0x41), true));
  } finally {
    closeCharsetDecoder(handle);
  }
  assert.throws(() => decodeCharset(handle, Uint8Array.of(0x41), true), /not open/);
});
