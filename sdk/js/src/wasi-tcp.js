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
import { MAX_HEAD, concat, dechunk, headEnd, ipv4, ipv6, parseHead, requestBytes, splitAuthority } from "./http1.js";
import { shown } from "./http.js";


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
  if (size < wanted && wanted !== Infinity && !head.chunked && head.headers.some(([n]) => n === "content-length")) {
    throw new PluginError("unavailable", `${what.shown}: the connection closed after ${size} of the ${wanted} body bytes announced`);
  }
  let body = concat(chunks, size);
  if (head.chunked) body = dechunk(body, req.maxBodyBytes, what);
  const truncated = body.length > req.maxBodyBytes;
  return { status: head.status, headers: head.headers, body: truncated ? body.subarray(0, req.maxBodyBytes) : body, truncated };
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
