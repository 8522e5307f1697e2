// HTTP/1.1 framing for the SDK's TCP transport (`wasi-tcp.js`): the request
// bytes, the response's head, chunked bodies, host and port. Plain
// JavaScript, so it is tested natively.

import { PluginError } from "./errors.js";
import { decode, encode } from "./utf8.js";

/** The most bytes of status line and headers read. */
export const MAX_HEAD = 64 * 1024;

/** `host` and `port` of an authority (`[v6]:port`, `host:port`, `host`). */
export function splitAuthority(authority, what) {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) throw new PluginError("invalid-config", `${what.shown}: cannot read host and port from ${JSON.stringify(authority)}`);
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (port < 1 || port > 65535) throw new PluginError("invalid-config", `${what.shown}: port ${port} is out of range`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

export function ipv4(host) {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number);
}

export function ipv6(host) {
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


export function concat(chunks, size) {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Index of `\r\n\r\n` in `bytes`, or -1. */
export function headEnd(bytes) {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return -1;
}

/** Decodes a chunked body; stops past `max` bytes. */
export function dechunk(raw, max, what) {
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


export function parseHead(bytes, what) {
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

export function requestBytes(req) {
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

