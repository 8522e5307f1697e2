// Native tests of the registry builder and its WIT conversion.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry, PluginError } from "../src/index.js";

test("same name appends to one family, units and labels kept", () => {
  const out = new Registry();
  out.counter("c_total", "h").with({ a: "1" }, 1);
  out.counter("c_total", "h").with([["a", "2"]], 2);
  out.gauge("g", "h").unit("bytes").set(3);
  assert.equal(out.families.length, 2);
  assert.equal(out.get("c_total").metrics.length, 2);
  assert.equal(out.value("c_total", { a: "2" }), 2);
  assert.equal(out.get("g").unit, "bytes");
  assert.equal(out.value("g"), 3);
});

test("every kind converts to the WIT records", () => {
  const out = new Registry();
  out.untyped("u", "").set(-1.5);
  out.info("build", "Build information.").info({ version: "1.2.3" });
  out.histogram("latency_seconds", "h").histogram({ path: "/" }, { buckets: [[0.1, 1], { upperBound: 1, cumulativeCount: 3 }], count: 4, sum: 2.5 });
  out.summary("rpc_seconds", "s").summary(null, { quantiles: [[0.5, 0.2], [0.99, 1.5]], count: 10, sum: 4 });
  const wit = out.toWit();
  assert.deepEqual(wit.map((f) => f.kind), ["untyped", "info", "histogram", "summary"]);
  assert.deepEqual(wit[1].metrics[0], { labels: [{ name: "version", value: "1.2.3" }], value: { tag: "number", val: 1 }, timestampMs: undefined });
  assert.deepEqual(wit[2].metrics[0].value, {
    tag: "histogram",
    val: { buckets: [{ upperBound: 0.1, cumulativeCount: 1 }, { upperBound: 1, cumulativeCount: 3 }], count: 4, sum: 2.5 },
  });
  assert.deepEqual(wit[3].metrics[0].value.val.quantiles[1], { quantile: 0.99, value: 1.5 });
});

test("bad names, labels and values are clear errors", () => {
  const out = new Registry();
  const fails = (fn, pattern) => assert.throws(fn, (e) => e instanceof PluginError && pattern.test(e.message));
  fails(() => out.gauge("1bad", "h"), /invalid metric name "1bad"/);
  fails(() => out.gauge("g", "h").with({ "bad-label": "x" }, 1), /invalid label name "bad-label"/);
  fails(() => out.gauge("g", "h").with({ __name__: "x" }, 1), /invalid label name/);
  fails(() => out.gauge("g", "h").with({ a: "x" }, "12"), /value must be a number, got string/);
  fails(() => out.counter("g", "h"), /already a gauge/);
  fails(() => out.histogram("h", "").histogram(null, { buckets: [[1, 1], [0.5, 2]], count: 2, sum: 1 }), /sorted/);
  fails(() => out.histogram("h", "").histogram(null, { buckets: [], count: -1, sum: 1 }), /non-negative integer/);
  fails(() => out.summary("s", "").summary(null, { quantiles: [[2, 1]], count: 1, sum: 1 }), /not in \[0, 1\]/);
});
