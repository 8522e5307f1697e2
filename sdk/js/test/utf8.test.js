// Native tests of the UTF-8 fallback used where the engine has no
// TextEncoder/TextDecoder (QuickJS), against Node's own.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fallback } from "../src/utf8.js";

test("the fallback encodes and decodes as TextEncoder/TextDecoder do", () => {
  const samples = ["", "plain ascii", "été ☃ 𝄞 中文", "a\u0000b", "\ud800 lone", "x".repeat(20_000) + "é"];
  for (const text of samples) {
    assert.deepEqual(fallback.encode(text), new TextEncoder().encode(text), JSON.stringify(text.slice(0, 20)));
    const bytes = new TextEncoder().encode(text);
    assert.equal(fallback.decode(bytes), new TextDecoder().decode(bytes));
  }
});

test("invalid UTF-8 becomes U+FFFD as TextDecoder does", () => {
  const cases = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x61, 0xf4, 0x90, 0x80, 0x80, 0x62], [0xe2, 0x28, 0xa1]];
  for (const bytes of cases) {
    const input = new Uint8Array(bytes);
    assert.equal(fallback.decode(input), new TextDecoder().decode(input), JSON.stringify(bytes));
  }
});
