// Native tests of the json exporter: config checks, JSONPath mapping and
// hostile answers, with a fake HTTP transport standing in for the host.

import { test } from "node:test";
import assert from "node:assert/strict";
import { PluginError, Registry, http, log } from "wasmetheus-sdk";
import exporter, { nestingDepth } from "../src/exporter.js";
import { SCHEMA } from "../src/config.js";

const URL = "http://127.0.0.1:7979/data.json";

const DOC = {
  counter: 1234,
  location: "mars",
  version: "1.2.3",
  values: [
    { id: "id-A", count: 1, some_boolean: true, state: "ACTIVE" },
    { id: "id-B", count: "2", some_boolean: false, state: "INACTIVE" },
    { id: "id-C", count: 3, some_boolean: true, state: "ACTIVE" },
  ],
};

const CONFIG = {
  url: URL,
  metrics: [
    { name: "example_global_value", help: "A top-level value.", path: "{ .counter }", labels: { environment: "beta", location: "planet-{.location}" } },
    {
      name: "example_value",
      help: "Values of active items.",
      path: '$.values[?(@.state == "ACTIVE")]',
      labels: { id: "{.id}", environment: "beta" },
      values: { active: 1, count: "@.count", boolean: "@.some_boolean" },
    },
    { name: "example_count", type: "counter", path: "$.values[1].count" },
    { name: "example_build", type: "info", path: "$", labels: { version: "$.version" } },
  ],
};

/** Opens the exporter with `config` and collects once against `answer`. */
function scrape(config, answer) {
  const requests = [];
  const restore = http.useTransport((req) => {
    requests.push(req);
    return typeof answer === "function" ? answer(req) : answer;
  });
  const logs = log.captureLogs();
  try {
    const out = new Registry();
    exporter.open(JSON.stringify(config)).collect(out);
    return { out, logs: [...logs], requests };
  } finally {
    logs.stop();
    restore();
  }
}

const ok = (doc) => ({ status: 200, body: typeof doc === "string" ? doc : JSON.stringify(doc) });

test("fields map to metrics as json_exporter does", () => {
  const { out, logs, requests } = scrape(CONFIG, ok(DOC));
  assert.equal(requests[0].url, URL);
  assert.equal(out.value("example_global_value", { environment: "beta", location: "planet-mars" }), 1234);
  assert.equal(out.value("example_value_active", { id: "id-A", environment: "beta" }), 1);
  assert.equal(out.value("example_value_count", { id: "id-C", environment: "beta" }), 3);
  assert.equal(out.value("example_value_boolean", { id: "id-A", environment: "beta" }), 1);
  assert.equal(out.value("example_value_count", { id: "id-B", environment: "beta" }), undefined, "the filter leaves INACTIVE out");
  assert.equal(out.value("example_count"), 2, "numeric strings count");
  assert.equal(out.get("example_count").kind, "counter");
  assert.equal(out.value("example_build", { version: "1.2.3" }), 1);
  assert.equal(out.value("json_up"), 1);
  assert.equal(out.value("json_skipped_values"), 0);
  assert.deepEqual(logs, []);
});

test("missing fields and non-numbers are skipped, counted and logged", () => {
  const doc = { counter: "n/a", values: [{ id: "x", count: null }, { id: "y", count: { nested: 1 } }, { id: "z", count: 5 }] };
  const config = { url: URL, metrics: [{ name: "c", path: "$.counter" }, { name: "v", path: "$.values[*]", labels: { id: "@.id" }, values: { count: "@.count" } }, { name: "gone", path: "$.nothing" }] };
  const { out, logs } = scrape(config, ok(doc));
  assert.equal(out.get("c"), undefined);
  assert.equal(out.value("v_count", { id: "z" }), 5);
  assert.equal(out.get("v_count").metrics.length, 1);
  assert.equal(out.value("json_skipped_values"), 4);
  assert.equal(out.value("json_up"), 1);
  assert.equal(logs.length, 1);
  assert.match(logs[0].message, /4 values skipped, first: c: \$\.counter is "n\/a", not a number/);
});

test("repeated label sets are skipped rather than sent twice", () => {
  const config = { url: URL, metrics: [{ name: "v", path: "$[*]", labels: { k: "@.k" }, values: { n: "@.n" } }] };
  const { out } = scrape(config, ok([{ k: "a", n: 1 }, { k: "a", n: 2 }]));
  assert.deepEqual(out.get("v_n").metrics.map((m) => m.value.val), [1]);
  assert.equal(out.value("json_skipped_values"), 1);
});

test("hostile answers: not JSON, too big, too deep, HTTP errors → json_up 0 and a clear error log", () => {
  const cases = [
    [{ status: 200, body: "<html>oops</html>" }, /is not JSON .* it starts with "<html>oops<\/html>"/],
    [{ status: 200, body: `[${"1,".repeat(3000)}1]` }, /over 1024 bytes \(raise max_body_bytes/],
    [{ status: 200, body: "[".repeat(100_000) + "]".repeat(100_000) }, null],
    [{ status: 503, body: "{}" }, /answered HTTP 503/],
    [() => { throw new PluginError("denied", "tcp connect 127.0.0.1:7979: not granted (add \"127.0.0.1:7979\" under grants.tcp_connect)"); }, /denied: .*not granted/],
    [() => { throw new PluginError("unavailable", "http://127.0.0.1:7979/data.json: timed out"); }, /timed out/],
  ];
  for (const [answer, pattern] of cases) {
    const config = { ...CONFIG, max_body_bytes: answer.body?.length === 100_000 * 2 ? 1 << 20 : 1024 };
    const { out, logs } = scrape(config, answer);
    assert.equal(out.value("json_up"), 0);
    assert.equal(out.get("example_value_count"), undefined);
    const errors = logs.filter((l) => l.level === "error");
    assert.equal(errors.length, 1, JSON.stringify(logs));
    assert.match(errors[0].message, pattern ?? /nested more than 200 levels deep/);
  }
});

test("max_series caps the output and says so", () => {
  const doc = Array.from({ length: 50 }, (_, i) => ({ i, v: i }));
  const config = { url: URL, max_series: 10, metrics: [{ name: "v", path: "$[*]", labels: { i: "@.i" }, values: { x: "@.v" } }] };
  const { out, logs } = scrape(config, ok(doc));
  assert.equal(out.get("v_x").metrics.length, 10);
  assert.match(logs.find((l) => l.level === "error").message, /more than max_series \(10\)/);
});

test("invalid configs are invalid-config errors naming the setting", () => {
  const bad = (config, pattern) =>
    assert.throws(
      () => exporter.open(typeof config === "string" ? config : JSON.stringify(config)),
      (e) => e instanceof PluginError && e.kind === "invalid-config" && pattern.test(e.message),
    );
  bad("not json", /^config is not valid JSON: unexpected 'n', expected a value at line 1 column 1$/);
  bad('{"url": "x", "url": "y"}', /the key "url" is given twice/);
  bad({ metrics: [{ name: "a", path: "$" }] }, /^config: missing setting `url` \(string\)$/);
  bad({ url: "ftp://x", metrics: [{ name: "a", path: "$" }] }, /only http and https/);
  bad({ url: URL, metrics: [] }, /^config\.metrics: needs at least 1 entry$/);
  bad({ url: URL, metrics: [{ name: "a-b", path: "$" }] }, /^config\.metrics\[0\]\.name: "a-b" does not match the pattern \^\[a-zA-Z_:\]/);
  bad({ url: URL, metrics: [{ name: "a", path: "$.x[" }] }, /^config\.metrics\[0\]\.path: invalid path "\$\.x\[" at character 5/);
  bad({ url: URL, metrics: [{ name: "a", path: "$", type: "histogram" }] }, /config\.metrics\[0\]\.type: "histogram" is not one of "gauge", "counter", "untyped", "info"/);
  bad({ url: URL, metrics: [{ name: "a", path: "$", values: {} }] }, /config\.metrics\[0\]\.values is empty/);
  bad({ url: URL, metrics: [{ name: "a", path: "$", values: { x: true } }] }, /config\.metrics\[0\]\.values\.x: expected string or number, got true/);
  bad({ url: URL, headers: { Authorization: 1 }, metrics: [{ name: "a", path: "$" }] }, /config\.headers\.Authorization: expected string, got 1/);
  bad({ url: URL, metrics: [{ name: "a", path: "$", labels: { "bad-name": "x" } }] }, /invalid label name "bad-name"/);
  bad({ url: URL, metrics: [{ name: "a", path: "$", values: { "a b": 1 } }] }, /invalid suffix "a b"/);
  bad({ url: URL, metrics: [{ name: "a", path: "$", pth: "x" }] }, /^config\.metrics\[0\]: unknown setting `pth` \(known settings: name, help, type, path, labels, values\)$/);
  bad({ url: URL, timeout_ms: 0, metrics: [{ name: "a", path: "$" }] }, /^config\.timeout_ms: 0 is less than the minimum 1$/);
  bad({ url: URL, timeot_ms: 1, metrics: [{ name: "a", path: "$" }] }, /^config: unknown setting `timeot_ms`/);
});

test("metadata requests a tcp connection and its schema's example opens", () => {
  const meta = exporter.metadata().toWit();
  assert.equal(meta.name, "js-json-exporter");
  assert.deepEqual(meta.capabilities[0].capability, { tag: "tcp-connect", val: "localhost:80" });
  assert.deepEqual(meta.capabilities[1], { capability: { tag: "dns-lookup" }, reason: "only when the url names a host other than localhost", optional: true });
  const schema = JSON.parse(meta.configSchema);
  assert.deepEqual(schema, SCHEMA);
  assert.ok(exporter.open(JSON.stringify(schema.examples[0])));
});

test("nesting depth ignores brackets inside strings", () => {
  assert.equal(nestingDepth('{"a": "[[[[", "b": [1, {"c": "\\"["}]}'), 3);
});
