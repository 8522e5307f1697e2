// Native tests of metadata, errors, logging and the HTTP
// helper (with a fake transport standing in for the host).

import { test } from "node:test";
import assert from "node:assert/strict";
import { Capability, Metadata, PluginError, toWitError, invalidConfig, log, http } from "../src/index.js";

test("metadata converts to the WIT record", () => {
  const m = new Metadata("demo", "1.0.0", "A demo")
    .configSchema({ type: "object", examples: [{}] })
    .request(Capability.httpOrigin("http://127.0.0.1:9"), "to fetch")
    .requestOptional(Capability.dnsLookup(), "names");
  assert.deepEqual(m.toWit(), {
    name: "demo",
    version: "1.0.0",
    description: "A demo",
    configSchema: '{"type":"object","examples":[{}]}',
    capabilities: [
      { capability: { tag: "http-origin", val: "http://127.0.0.1:9" }, reason: "to fetch", optional: false },
      { capability: { tag: "dns-lookup" }, reason: "names", optional: true },
    ],
  });
  assert.throws(() => new Metadata("Bad Name", "1", ""), /must match \[a-z0-9-\]\+/);
});

test("errors become the WIT error variant, messages capped", () => {
  assert.deepEqual(toWitError(invalidConfig("url is missing")), { tag: "invalid-config", val: "url is missing" });
  assert.deepEqual(toWitError(new TypeError("x is not a function")), { tag: "other", val: "TypeError: x is not a function" });
  assert.deepEqual(toWitError("plain"), { tag: "other", val: "plain" });
  assert.deepEqual(toWitError({ weird: 1 }), { tag: "other", val: '{"weird":1}' });
  assert.equal(toWitError(new PluginError("unavailable", "x".repeat(10_000))).val.length, 4096);
  assert.throws(() => new PluginError("nope", "m"), /kind must be one of/);
});

test("log lines can be captured natively", () => {
  const lines = log.captureLogs();
  log.warn("careful");
  log.log("bogus-level", "defaults to info");
  lines.stop();
  assert.deepEqual(lines, [
    { level: "warn", message: "careful" },
    { level: "info", message: "defaults to info" },
  ]);
});

test("URLs are split into their parts and shown without secrets", () => {
  assert.deepEqual(http.parseUrl("http://u:p@127.0.0.1:8080?q=1#f"), {
    https: false,
    authority: "127.0.0.1:8080",
    pathWithQuery: "/?q=1",
    origin: "http://127.0.0.1:8080",
    userinfo: { user: "u", password: "p" },
  });
  assert.equal(http.shown("https://user:s3cret@host/a?token=x"), "https://user:xxxxx@host/a");
  for (const [url, why] of [
    ["ftp://x", /only http and https/],
    ["localhost:80", /not an absolute URL/],
    ["http:///path", /no host/],
    ["http://a b/", /spaces/],
  ]) {
    assert.throws(() => http.parseUrl(url), (e) => e.kind === "invalid-config" && why.test(e.message));
  }
});

test("http without the host is unavailable; a fake transport answers and caps bodies", () => {
  assert.throws(() => http.get("http://127.0.0.1:1/"), (e) => e.kind === "unavailable" && /need the wasmetheus host/.test(e.message));
  const seen = [];
  const restore = http.useTransport((req) => {
    seen.push(req);
    return { status: 200, body: "0123456789" };
  });
  try {
    const r = http.get("http://me:pw@127.0.0.1:1/x", { maxBodyBytes: 4, headers: { Accept: "application/json" } });
    assert.equal(r.status, 200);
    assert.equal(http.text(r), "0123");
    assert.equal(r.truncated, true);
    assert.deepEqual(seen[0].headers, [
      ["accept", "application/json"],
      ["authorization", "Basic bWU6cHc="],
    ]);
  } finally {
    restore();
  }
});
