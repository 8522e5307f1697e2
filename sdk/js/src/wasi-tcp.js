// The `http.js` transport inside the host: HTTP/1.1 over a `wasi:sockets`
// TCP connection, bounded in time with the monotonic clock and in size by
// the caller's cap. The host lets a connection through only to an address
// granted under `tcp_connect`, and resolves names only with the `dns`
// grant (`localhost` and IP addresses need none). Plain `http` only.
// Every resource is dropped before returning, on every path, so an
// instance never runs out of handles or keeps a connection open between
// collects. Imported only by `component.js`: these modules exist only in
// the component.

import * as instanceNetwork from "wasi:sockets/instance-network@0.2.12";
import * as tcpCreateSocket from "wasi:sockets/tcp-create-socket@0.2.12";
import * as ipNameLookup from "wasi:sockets/ip-name-lookup@0.2.12";
import * as poll from "wasi:io/poll@0.2.12";
import * as clock from "wasi:clocks/monotonic-clock@0.2.12";
import { PluginError } from "./errors.js";
import { decode, encode } from "./utf8.js";
import { shown } from "./http.js";

/** The most bytes of status line and headers read. */
const MAX_HEAD = 64 * 1024;


function drop(resource) {
  try {
    resource?.[Symbol.dispose]?.();
  } catch {
    // Already consumed or dropped: nothing left to free.
  }
}

/** The WIT error code (a string such as `access-denied`) inside something thrown. */
function code(err) {
  if (typeof err === "string") return err;
  const p = err?.payload ?? err?.val ?? err;
  if (typeof p === "string") return p;
  if (p?.tag) return p.tag;
  return String(err?.message ?? err);
}

/** Waits until `pollable` is ready or `deadline` (ns) passes; true if ready. */
function waitUntil(pollable, deadline) {
  if (clock.now() >= deadline) return pollable.ready();
  const timer = clock.subscribeInstant(deadline);
  try {
    return poll.poll([pollable, timer]).includes(0);
  } finally {
    drop(timer);
  }
}

/** `host` and `port` of an authority (`[v6]:port`, `host:port`, `host`). */
function splitAuthority(authority, what) {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) throw new PluginError("invalid-config", `${what.shown}: cannot read host and port from ${JSON.stringify(authority)}`);
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (port < 1 || port > 65535) throw new PluginError("invalid-config", `${what.shown}: port ${port} is out of range`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

function ipv4(host) {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number);
}

function ipv6(host) {
  if (!host.includes(":") || !/^[0-9a-fA-F:]+$/.test(host)) return null;
  const [head, tail, extra] = host.split("::");
  if (extra !== undefined) return null;
  const groups = (s) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const a = groups(head);
  const b = tail === undefined ? [] : groups(tail);
  const fill = 8 - a.length - b.length;
  if ((tail === undefined && fill !== 0) || fill < 0 || [...a, ...b].some((g) => !(g >= 0 && g <= 0xffff))) return null;
  return [...a, ...new Array(fill).fill(0), ...b];
}

/** The IP address to connect to: a literal, `localhost`, or a DNS answer. */
function resolve(network, host, deadline, what) {
  const v4 = host === "localhost" ? [127, 0, 0, 1] : ipv4(host);
  if (v4) return { tag: "ipv4", val: v4 };
  const v6 = ipv6(host);
  if (v6) return { tag: "ipv6", val: v6 };
  let stream;
  try {
    stream = ipNameLookup.resolveAddresses(network, host);
  } catch (e) {
    throw lookupError(code(e), host, what);
  }
  try {
    const found = [];
    for (;;) {
      let next;
      try {
        next = stream.resolveNextAddress();
      } catch (e) {
        if (code(e) !== "would-block") throw lookupError(code(e), host, what);
        const ready = stream.subscribe();
        try {
          if (!waitUntil(ready, deadline)) throw new PluginError("unavailable", `${what.shown}: timed out resolving ${host}`);
        } finally {
          drop(ready);
        }
        continue;
      }
      if (next == null) break;
      found.push(next);
    }
    const address = found.find((a) => a.tag === "ipv4") ?? found[0];
    if (!address) throw new PluginError("unavailable", `${what.shown}: ${host} has no address`);
    return address;
  } finally {
    drop(stream);
  }
}

function lookupError(errorCode, host, what) {
  if (errorCode === "access-denied" || errorCode === "not-supported") {
    return new PluginError("denied", `dns lookup of ${host}: not granted (grant dns: true, or write an IP address in the URL) for ${what.shown}`);
  }
  return new PluginError("unavailable", `${what.shown}: resolving ${host} failed (${errorCode})`);
}

function connectError(errorCode, address, what) {
  if (errorCode === "access-denied" || errorCode === "not-supported") {
    return new PluginError("denied", `tcp connect ${address}: not granted (add "${address}" under grants.tcp_connect) for ${what.shown}`);
  }
  const hint = errorCode === "connection-refused" ? " (is the server listening there?)" : "";
  return new PluginError("unavailable", `${what.shown}: connecting to ${address} failed (${errorCode})${hint}`);
}

function concat(chunks, size) {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Index of `\r\n\r\n` in `bytes`, or -1. */
function headEnd(bytes) {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return -1;
}

/** Decodes a chunked body; stops past `max` bytes. */
function dechunk(raw, max, what) {
  const chunks = [];
  let size = 0;
  let at = 0;
  for (;;) {
    let eol = at;
    while (eol + 1 < raw.length && !(raw[eol] === 13 && raw[eol + 1] === 10)) eol++;
    if (eol + 1 >= raw.length) break; // cut short: keep what came
    const length = parseInt(decode(raw.subarray(at, eol)).split(";", 1)[0].trim(), 16);
    if (!(length >= 0)) throw new PluginError("unavailable", `${what.shown}: malformed chunked body`);
    if (length === 0) break;
    const start = eol + 2;
    const chunk = raw.subarray(start, Math.min(start + length, raw.length));
    chunks.push(chunk);
    size += chunk.length;
    if (size > max || start + length > raw.length) break;
    at = start + length + 2;
  }
  return concat(chunks, size);
}

/** Reads the response from `input`: `{status, headers, body, truncated}`. */
function readResponse(input, req, deadline, what) {
  const chunks = [];
  let size = 0;
  let head = null;
  let wanted = Infinity; // raw bytes after which reading stops
  const pollable = input.subscribe();
  try {
    while (size < wanted) {
      if (!waitUntil(pollable, deadline)) {
        throw new PluginError("unavailable", `${what.shown}: timed out after ${req.timeoutMs} ms (${size} bytes read)`);
      }
      let chunk;
      try {
        chunk = input.read(65536);
      } catch (e) {
        if (code(e) === "closed") break;
        throw new PluginError("unavailable", `${what.shown}: reading the response failed (${code(e)})`);
      }
      chunks.push(chunk);
      size += chunk.length;
      if (head === null) {
        const bytes = concat(chunks, size);
        const end = headEnd(bytes);
        if (end < 0) {
          if (size > MAX_HEAD) throw new PluginError("unavailable", `${what.shown}: no end of the response's headers in its first ${MAX_HEAD} bytes`);
          continue;
        }
        head = parseHead(bytes.subarray(0, end), what);
        chunks.length = 0;
        chunks.push(bytes.subarray(end));
        size = bytes.length - end;
        const length = head.headers.find(([n]) => n === "content-length")?.[1];
        if (req.method === "HEAD" || head.status === 204 || head.status === 304) wanted = 0;
        else if (head.chunked) wanted = 2 * req.maxBodyBytes + 65536;
        else if (length !== undefined && /^\d+$/.test(length.trim())) wanted = Math.min(Number(length), req.maxBodyBytes + 1);
        else wanted = req.maxBodyBytes + 1;
      }
    }
  } finally {
    drop(pollable);
  }
  if (head === null) throw new PluginError("unavailable", `${what.shown}: the connection closed before a complete response (${size} bytes)`);
  let body = concat(chunks, size);
  if (head.chunked) body = dechunk(body, req.maxBodyBytes, what);
  const truncated = body.length > req.maxBodyBytes;
  return { status: head.status, headers: head.headers, body: truncated ? body.subarray(0, req.maxBodyBytes) : body, truncated };
}

function parseHead(bytes, what) {
  const lines = decode(bytes).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) throw new PluginError("unavailable", `${what.shown}: not an HTTP/1.x response (${JSON.stringify(lines[0].slice(0, 40))})`);
  const headers = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const chunked = headers.some(([n, v]) => n === "transfer-encoding" && /chunked/i.test(v));
  return { status: Number(m[1]), headers, chunked };
}

function requestBytes(req) {
  const lines = [`${req.method} ${req.target.pathWithQuery} HTTP/1.1`, `host: ${req.target.authority}`, "connection: close", "user-agent: wasmetheus-js"];
  for (const [name, value] of req.headers) {
    if (/[\r\n]/.test(name + value) || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      throw new PluginError("invalid-config", `invalid request header ${JSON.stringify(name)}`);
    }
    if (name !== "host" && name !== "connection") lines.push(`${name}: ${value}`);
  }
  const body = req.body ?? new Uint8Array();
  if (body.length > 0 || req.method === "POST" || req.method === "PUT") lines.push(`content-length: ${body.length}`);
  const headBytes = encode(`${lines.join("\r\n")}\r\n\r\n`);
  return concat([headBytes, body], headBytes.length + body.length);
}

function writeAll(output, bytes, deadline, what) {
  const pollable = output.subscribe();
  try {
    let at = 0;
    while (at < bytes.length) {
      let room;
      try {
        room = output.checkWrite();
      } catch (e) {
        throw new PluginError("unavailable", `${what.shown}: sending the request failed (${code(e)})`);
      }
      if (room === 0) {
        if (!waitUntil(pollable, deadline)) throw new PluginError("unavailable", `${what.shown}: timed out sending the request`);
        continue;
      }
      const part = bytes.subarray(at, at + Math.min(room, 65536));
      output.write(part);
      at += part.length;
    }
    output.flush();
  } catch (e) {
    if (e instanceof PluginError) throw e;
    throw new PluginError("unavailable", `${what.shown}: sending the request failed (${code(e)})`);
  } finally {
    drop(pollable);
  }
}

/** Sends `req` (built by `http.request`) and returns the response. */
export function send(req) {
  const what = { shown: shown(req.url) };
  if (req.target.https) {
    throw new PluginError("invalid-config", `${what.shown}: https is not supported by the JavaScript SDK (plain http over a tcp_connect grant)`);
  }
  const deadline = clock.now() + BigIntOrNumber(Math.max(1, Math.floor(req.timeoutMs)) * 1_000_000);
  const { host, port } = splitAuthority(req.target.authority, what);
  const network = instanceNetwork.instanceNetwork();
  let socket;
  let input;
  let output;
  try {
    const ip = resolve(network, host, deadline, what);
    const address = ip.tag === "ipv4" ? `${ip.val.join(".")}:${port}` : `[${ip.val.map((g) => g.toString(16)).join(":")}]:${port}`;
    try {
      socket = tcpCreateSocket.createTcpSocket(ip.tag);
      socket.startConnect(network, { tag: ip.tag, val: ip.tag === "ipv4" ? { port, address: ip.val } : { port, flowInfo: 0, address: ip.val, scopeId: 0 } });
    } catch (e) {
      throw connectError(code(e), address, what);
    }
    const ready = socket.subscribe();
    try {
      for (;;) {
        try {
          [input, output] = socket.finishConnect();
          break;
        } catch (e) {
          if (code(e) !== "would-block") throw connectError(code(e), address, what);
        }
        if (!waitUntil(ready, deadline)) throw new PluginError("unavailable", `${what.shown}: timed out connecting to ${address}`);
      }
    } finally {
      drop(ready);
    }
    writeAll(output, requestBytes(req), deadline, what);
    return readResponse(input, req, deadline, what);
  } finally {
    drop(input);
    drop(output);
    drop(socket);
    drop(network);
  }
}

/** Instants are `u64`: a number with QuickJS, a BigInt with engines that use them. */
function BigIntOrNumber(n) {
  return typeof clock.now() === "bigint" ? BigInt(n) : n;
}
