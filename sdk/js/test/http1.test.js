// Native tests of the HTTP/1.1 framing the SDK's TCP transport uses.

import { test } from "node:test";
import assert from "node:assert/strict";
import { dechunk, headEnd, ipv4, ipv6, parseHead, requestBytes, splitAuthority } from "../src/http1.js";
import { parseUrl } from "../src/http.js";

const what = { shown: "http://x/" };
const bytes = (text) => new TextEncoder().encode(text);
const text = (b) => new TextDecoder().decode(b);

test("the request head names the host, closes the connection and carries the headers", () => {
  const req = { method: "GET", target: parseUrl("http://127.0.0.1:8080/a?b=1"), headers: [["accept", "application/json"], ["host", "evil"]], body: null };
  assert.equal(text(requestBytes(req)), "GET /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nconnection: close\r\nuser-agent: wasmetheus-js\r\naccept: application/json\r\n\r\n");
  const post = { method: "POST", target: parseUrl("http://h/"), headers: [], body: bytes("{}") };
  assert.match(text(requestBytes(post)), /content-length: 2\r\n\r\n\{\}$/);
  for (const headers of [[["x", "a\r\nInjected: 1"]], [["bad name", "v"]]]) {
    assert.throws(() => requestBytes({ ...req, headers }), (e) => e.kind === "invalid-config" && /invalid request header/.test(e.message));
  }
});

test("response heads: status, lower-cased headers, chunked; garbage is refused", () => {
  const raw = bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nrest");
  const end = headEnd(raw);
  assert.equal(text(raw.subarray(end)), "rest");
  const head = parseHead(raw.subarray(0, end), what);
  assert.equal(head.status, 200);
  assert.equal(head.chunked, true);
  assert.deepEqual(head.headers[0], ["content-type", "application/json"]);
  assert.equal(headEnd(bytes("HTTP/1.1 200 OK\r\nX: y\r\n")), -1);
  assert.throws(() => parseHead(bytes("SSH-2.0-OpenSSH\r\n\r\n"), what), (e) => e.kind === "unavailable" && /not an HTTP\/1\.x response/.test(e.message));
});

test("chunked bodies decode, stop past the cap and refuse bad sizes", () => {
  const body = bytes("4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\r\n");
  assert.equal(text(dechunk(body, 1000, what)), "Wikipedia in \r\n\r\nchunks.");
  assert.equal(text(dechunk(body, 5, what)), "Wikipedia ", "stops after the chunk passing the cap");
  assert.equal(text(dechunk(bytes("5\r\nabc"), 1000, what)), "abc", "cut short: what came");
  assert.throws(() => dechunk(bytes("zz\r\nabc\r\n"), 1000, what), /malformed chunked body/);
});

test("hosts and ports", () => {
  assert.deepEqual(splitAuthority("127.0.0.1:8080", what), { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(splitAuthority("example.org", what), { host: "example.org", port: 80 });
  assert.deepEqual(splitAuthority("[::1]:9090", what), { host: "::1", port: 9090 });
  assert.throws(() => splitAuthority("h:99999", what), /port 99999 is out of range/);
  assert.throws(() => splitAuthority("a:b:c", what), /cannot read host and port/);
  assert.deepEqual(ipv4("10.0.0.255"), [10, 0, 0, 255]);
  assert.equal(ipv4("10.0.0.256"), null);
  assert.equal(ipv4("example.org"), null);
  assert.deepEqual(ipv6("::1"), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6("fe80::1:2"), [0xfe80, 0, 0, 0, 0, 0, 1, 2]);
  assert.equal(ipv6("1::2::3"), null);
  assert.equal(ipv6("localhost"), null);
});
