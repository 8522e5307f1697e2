// The `http.js` transport inside the host: one request through
// `wasi:http/outgoing-handler`, bounded in time with the monotonic clock
// and in size by the caller's cap. Every resource is dropped before
// returning, on every path, so an instance never runs out of handles or
// keeps a connection open between collects. Imported only by
// `component.js`: these modules exist only in the component.

import { handle } from "wasi:http/outgoing-handler@0.2.12";
import { Fields, OutgoingBody, OutgoingRequest } from "wasi:http/types@0.2.12";
import { poll } from "wasi:io/poll@0.2.12";
import { now, subscribeInstant } from "wasi:clocks/monotonic-clock@0.2.12";
import { PluginError } from "./errors.js";
import { shown } from "./http.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function drop(resource) {
  try {
    resource?.[Symbol.dispose]?.();
  } catch {
    // Already consumed or dropped: nothing left to free.
  }
}

/** The WIT `error-code` (or `stream-error`) inside something thrown. */
function payload(err) {
  return err?.payload ?? err;
}

function failure(code, what) {
  const tag = String(code?.tag ?? "unknown").toLowerCase();
  const detail = code?.val === undefined ? code?.tag ?? String(code) : `${code.tag} ${JSON.stringify(code.val, (_, v) => (typeof v === "bigint" ? String(v) : v))}`;
  if (tag === "http-request-denied") {
    const origin = what.origin;
    return new PluginError("denied", `http origin ${origin}: not granted (add ${origin} under grants.http_origins)`);
  }
  if (tag.includes("timeout")) return new PluginError("unavailable", `${what.shown}: timed out (${detail})`);
  return new PluginError("unavailable", `${what.shown}: ${detail}`);
}

/** Waits until `pollable` is ready or `deadline` (ns) passes; true if ready. */
function waitUntil(pollable, deadline) {
  const timer = subscribeInstant(deadline);
  try {
    return poll([pollable, timer]).includes(0);
  } finally {
    drop(timer);
  }
}

const METHODS = { GET: "get", POST: "post", PUT: "put", HEAD: "head", DELETE: "delete", PATCH: "patch" };

function writeBody(outgoing, bytes, what) {
  const body = outgoing.body();
  const stream = body.write();
  try {
    for (let at = 0; at < bytes.length; at += 4096) {
      stream.blockingWriteAndFlush(bytes.subarray(at, at + 4096));
    }
  } catch (e) {
    throw new PluginError("unavailable", `${what.shown}: sending the body failed: ${JSON.stringify(payload(e))}`);
  } finally {
    drop(stream);
  }
  OutgoingBody.finish(body, undefined);
}

function readBody(response, req, deadline, what) {
  const body = response.consume();
  let stream;
  const chunks = [];
  let size = 0;
  let truncated = false;
  try {
    stream = body.stream();
    const pollable = stream.subscribe();
    try {
      for (;;) {
        if (!waitUntil(pollable, deadline)) {
          throw new PluginError("unavailable", `${what.shown}: timed out reading the body after ${size} bytes`);
        }
        let chunk;
        try {
          // One byte past the cap tells a body of exactly the cap from a longer one.
          chunk = stream.read(BigInt(Math.min(65536, req.maxBodyBytes + 1 - size)));
        } catch (e) {
          const p = payload(e);
          if (p?.tag === "closed") break;
          throw new PluginError("unavailable", `${what.shown}: reading the body failed: ${JSON.stringify(p)}`);
        }
        size += chunk.length;
        chunks.push(chunk);
        if (size > req.maxBodyBytes) {
          truncated = true;
          break;
        }
      }
    } finally {
      drop(pollable);
    }
  } finally {
    drop(stream);
    drop(body);
  }
  const out = new Uint8Array(Math.min(size, req.maxBodyBytes));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, out.length - at);
    out.set(part, at);
    at += part.length;
  }
  return { body: out, truncated };
}

/** Sends `req` (built by `http.request`) and returns the response. */
export function send(req) {
  const what = { shown: shown(req.url), origin: req.target.origin };
  const deadline = now() + BigInt(Math.max(1, Math.floor(req.timeoutMs))) * 1_000_000n;
  let headers;
  try {
    headers = Fields.fromList(req.headers.map(([n, v]) => [n, encoder.encode(v)]));
  } catch (e) {
    throw new PluginError("other", `${what.shown}: invalid request header: ${JSON.stringify(payload(e))}`);
  }
  const outgoing = new OutgoingRequest(headers);
  let future;
  try {
    outgoing.setMethod({ tag: METHODS[req.method] });
    outgoing.setScheme({ tag: req.target.https ? "HTTPS" : "HTTP" });
    outgoing.setAuthority(req.target.authority);
    outgoing.setPathWithQuery(req.target.pathWithQuery);
    if (req.body && req.body.length > 0) writeBody(outgoing, req.body, what);
  } catch (e) {
    drop(outgoing);
    if (e instanceof PluginError) throw e;
    throw new PluginError("invalid-config", `${what.shown}: the host refused the request's URL or method`);
  }
  try {
    // The request options are left out: the host never frees them (one
    // handle per request); the deadline is kept here instead.
    future = handle(outgoing, undefined);
  } catch (e) {
    throw failure(payload(e), what);
  }
  let response;
  try {
    const ready = future.subscribe();
    let done;
    try {
      done = waitUntil(ready, deadline);
    } finally {
      drop(ready);
    }
    if (!done) throw new PluginError("unavailable", `${what.shown}: timed out after ${req.timeoutMs} ms waiting for the response`);
    const got = future.get();
    if (got?.tag !== "ok") throw new PluginError("other", `${what.shown}: the response was already taken`);
    if (got.val.tag !== "ok") throw failure(got.val.val, what);
    response = got.val.val;
  } finally {
    drop(future);
  }
  try {
    const status = response.status();
    const fields = response.headers();
    let headerList;
    try {
      headerList = fields.entries().map(([n, v]) => [n, decoder.decode(v)]);
    } finally {
      drop(fields);
    }
    const { body, truncated } = req.method === "HEAD" ? { body: new Uint8Array(), truncated: false } : readBody(response, req, deadline, what);
    return { status, headers: headerList, body, truncated };
  } finally {
    drop(response);
  }
}
