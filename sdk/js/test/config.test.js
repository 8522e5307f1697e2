// Native tests of config parsing: strict JSON (duplicate keys, nesting,
// size, where the text is wrong), checks against the plugin's JSON Schema
// with defaults filled in, and the older field-map form.

import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_CONFIG_BYTES, PluginError, parseConfig } from "../src/index.js";

const SCHEMA = {
  type: "object",
  required: ["url"],
  properties: {
    url: { type: "string", minLength: 1, pattern: "^https?://" },
    timeout_ms: { type: "integer", minimum: 1, maximum: 60000, default: 5000 },
    mode: { enum: ["fast", "slow"], default: "fast" },
    headers: { type: "object", additionalProperties: { type: "string" }, default: {} },
    targets: {
      type: "array",
      minItems: 1,
      items: { type: "object", required: ["name"], properties: { name: { type: "string" }, weight: { type: "number", default: 1 } } },
    },
  },
  examples: [{ url: "http://localhost" }],
};

function refused(text, pattern, schema = SCHEMA) {
  assert.throws(
    () => parseConfig(text, schema),
    (e) => {
      assert.ok(e instanceof PluginError, `not a PluginError: ${e}`);
      assert.equal(e.kind, "invalid-config");
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test("a config is checked against the schema and gets its defaults", () => {
  assert.deepEqual(parseConfig('{"url": "http://x", "targets": [{"name": "a"}]}', SCHEMA), {
    url: "http://x",
    targets: [{ name: "a", weight: 1 }],
    timeout_ms: 5000,
    mode: "fast",
    headers: {},
  });
  const a = parseConfig('{"url": "http://x"}', SCHEMA);
  a.headers.x = "changed";
  assert.deepEqual(parseConfig('{"url": "http://x"}', SCHEMA).headers, {}, "defaults are copies");
  assert.deepEqual(parseConfig('{"url": "http://x", "headers": {"A": "b"}}', SCHEMA).headers, { A: "b" });
  assert.deepEqual(parseConfig('{"anything": [1]}'), { anything: [1] }, "without a schema any object");
  assert.deepEqual(parseConfig('{"anything": 1}', { type: "object" }), { anything: 1 }, "no properties listed: any key");
  assert.deepEqual(parseConfig(JSON.stringify(SCHEMA.examples[0]), JSON.stringify(SCHEMA)).url, "http://localhost", "schema as text");
});

test("an empty config means the defaults", () => {
  const schema = { type: "object", properties: { greeting: { type: "string", default: "hello" } } };
  for (const empty of ["", "  \n", "{}", null, undefined]) {
    assert.deepEqual(parseConfig(empty, schema), { greeting: "hello" });
  }
  assert.deepEqual(parseConfig(""), {});
});

test("every mistake names the setting", () => {
  refused('{"url": "http://x", "tmeout_ms": 1}', /^config: unknown setting `tmeout_ms` \(known settings: url, timeout_ms, mode, headers, targets\)$/);
  refused("{}", /^config: missing setting `url` \(string\)$/);
  refused('{"url": 3}', /^config\.url: expected string, got 3$/);
  refused('{"url": ""}', /config\.url: must be at least 1 characters long/);
  refused('{"url": "ftp://x"}', /config\.url: "ftp:\/\/x" does not match the pattern \^https\?:\/\//);
  refused('{"url": "http://x", "timeout_ms": 0}', /config\.timeout_ms: 0 is less than the minimum 1/);
  refused('{"url": "http://x", "timeout_ms": 1.5}', /config\.timeout_ms: expected integer, got 1\.5/);
  refused('{"url": "http://x", "timeout_ms": 60001}', /more than the maximum 60000/);
  refused('{"url": "http://x", "mode": "medium"}', /config\.mode: "medium" is not one of "fast", "slow"/);
  refused('{"url": "http://x", "headers": {"A": 1}}', /config\.headers\.A: expected string, got 1/);
  refused('{"url": "http://x", "targets": []}', /config\.targets: needs at least 1 entry/);
  refused('{"url": "http://x", "targets": [{"name": "a"}, {"nam": "b"}]}', /config\.targets\[1\]: unknown setting `nam` \(known settings: name, weight\)/);
  refused('{"url": "http://x", "targets": [{"name": "a"}, {"weight": 2}]}', /config\.targets\[1\]: missing setting `name`/);
  refused("[1]", /expected a JSON object of settings, got \[1\]/);
  refused('"text"', /expected a JSON object of settings, got "text"/);
});

test("non-JSON says where, a key given twice is refused", () => {
  refused('{"url": ', /^config is not valid JSON: unexpected the end of the text, expected a value at line 1 column 9$/);
  refused('{\n  "url": "http://x",\n}', /^config is not valid JSON: unexpected '}', expected a key in double quotes at line 3 column 1$/);
  refused("{'url': 1}", /config is not valid JSON: unexpected '''.* at line 1 column 2/);
  refused('{"url": "a\tb"}', /config is not valid JSON: character U\+0009 inside a string \(escape it\) at line 1 column 11/);
  refused('{"url": "http://x"} x', /expected nothing after the value at line 1 column 21/);
  refused('{"url": 01}', /at line 1 column 10/);
  refused('{"url": NaN}', /unexpected 'N', expected a value/);
  refused('{"url": "http://x",\n "url": "http://y"}', /^config is not valid JSON: the key "url" is given twice in one object at line 2 column 2$/);
  refused('{"url": "http://x", "headers": {"A": "1", "A": "2"}}', /the key "A" is given twice/);
  refused("\u0000\u00ff", /config is not valid JSON: unexpected character U\+0000/);
  // Escapes decode, and a key such as __proto__ stays a plain key.
  const odd = parseConfig('{"a\\u00e9\\n": "\\ud83d\\ude00", "__proto__": {"x": 1}}');
  assert.equal(odd["a\u00e9\n"], "\u{1F600}");
  assert.deepEqual(Object.keys(odd), ["a\u00e9\n", "__proto__"]);
  assert.equal(Object.getPrototypeOf(odd), Object.prototype);
  assert.equal({}.x, undefined);
  refused('{"constructor": 1}', /unknown setting `constructor`/, { type: "object", properties: { a: {} } });
});

test("hostile configs: huge, deep, long", () => {
  refused(" ".repeat(MAX_CONFIG_BYTES + 1), /the config is 1048577 bytes, more than the 1048576 \(1 MiB\) accepted/);
  refused(`{"url": "${"é".repeat(MAX_CONFIG_BYTES / 2)}"}`, /more than the 1048576 \(1 MiB\) accepted/);
  refused(`{"a": ${"[".repeat(100_000)}`, /nested more than 64 levels deep at line 1 column 70/, undefined);
  const deep = `${"[".repeat(63)}${"]".repeat(63)}`;
  assert.deepEqual(parseConfig(`{"a": ${deep}}`).a.flat(Infinity), []);
  refused(`{"a": [${deep}]}`, /nested more than 64 levels deep/, undefined);
  const wide = { type: "object", properties: { list: { type: "array", items: { type: "integer" } } } };
  const list = Array.from({ length: 100_000 }, (_, i) => i);
  assert.equal(parseConfig(JSON.stringify({ list }), wide).list.length, 100_000);
});

test("the older field-map form still works", () => {
  const fields = { url: { type: "string", required: true }, timeout: { type: "number", default: 5 } };
  assert.deepEqual(parseConfig('{"url": "x"}', fields), { url: "x", timeout: 5 });
  refused('{"url": "x", "tmeout": 1}', /unknown setting `tmeout` \(known settings: url, timeout\)/, fields);
  refused("{}", /missing setting `url` \(string\)/, fields);
  refused('{"url": 3}', /config\.url: expected string, got 3/, fields);
  // A setting called "properties" or "type" is still a field.
  assert.deepEqual(parseConfig('{"type": "a"}', { type: { type: "string" }, properties: { type: "object", default: {} } }), { type: "a", properties: {} });
});
