// HTTP requests from a plugin: one request, a deadline, and a bounded read
// of the body. In the host they are HTTP/1.1 over a `wasi:sockets` TCP
// connection (`wasi-tcp.js`), which the host lets through only to an
// address granted under `tcp_connect` (`Capability.tcpConnect("host:port")`);
// plain http only. Natively there is no host: a test installs a fake with
// `useTransport`.

import { PluginError } from "./errors.js";
import { decode, encode } from "./utf8.js";
import { bindings } from "./host.js";

/** The default deadline for the whole exchange, head and body. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The default cap on a response body; past it the rest is left unread. */
export const DEFAULT_MAX_BODY_BYTES = 4 << 20;

/**
 * `url` as errors may show it: a password in it as `xxxxx`, no query or
 * fragment (they often carry tokens), as Prometheus shows URLs.
 */
export function shown(url) {
  const text = String(url);
  const cut = (s) => s.split(/[?#]/, 1)[0];
  const sep = text.indexOf("://");
  if (sep < 0) return cut(text);
  const scheme = text.slice(0, sep);
  const rest = text.slice(sep + 3);
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const info = rest.slice(0, at);
    const colon = info.indexOf(":");
    if (colon >= 0) return `${scheme}://${cut(info.slice(0, colon))}:xxxxx@${cut(rest.slice(at + 1))}`;
  }
  return `${scheme}://${cut(rest)}`;
}

/**
 * Splits an `http`/`https` URL into `{https, authority, pathWithQuery,
 * origin, userinfo}`. Throws `invalid-config`
 * naming the URL (as `shown`) when it is not usable.
 */
export function parseUrl(url) {
  const invalid = (why) => new PluginError("invalid-config", `URL ${JSON.stringify(shown(url))}: ${why}`);
  if (typeof url !== "string") throw invalid("must be a string");
  const sep = url.indexOf("://");
  if (sep < 0) throw invalid("not an absolute URL (write http://host:port/path)");
  const scheme = url.slice(0, sep).toLowerCase();
  if (scheme !== "http" && scheme !== "https") throw invalid("only http and https URLs are supported");
  const rest = url.slice(sep + 3).split("#", 1)[0];
  const end = rest.search(/[/?]/);
  const authorityPart = end < 0 ? rest : rest.slice(0, end);
  const path = end < 0 ? "" : rest.slice(end);
  let authority = authorityPart;
  let userinfo = null;
  const at = authorityPart.lastIndexOf("@");
  if (at >= 0) {
    const info = authorityPart.slice(0, at);
    const colon = info.indexOf(":");
    userinfo = colon < 0 ? { user: info, password: null } : { user: info.slice(0, colon), password: info.slice(colon + 1) };
    authority = authorityPart.slice(at + 1);
  }
  if (authority === "" || authority.startsWith(":")) throw invalid("no host");
  if (/[\s\u0000-\u001f\u007f]/.test(authority)) throw invalid("the host has spaces or control characters");
  const https = scheme === "https";
  const pathWithQuery = path === "" ? "/" : path.startsWith("?") ? `/${path}` : path;
  return { https, authority, pathWithQuery, origin: `${scheme}://${authority}`, userinfo };
}

/**
 * Sends one request and returns `{status, headers, body, truncated}` with
 * `body` a `Uint8Array` of at most `maxBodyBytes` (then `truncated` is
 * true). Options: `method` (`GET`), `headers` (`{name: value}`), `body`
 * (string or bytes), `timeoutMs`, `maxBodyBytes`.
 *
 * Throws `PluginError`s: `denied` when the address is not granted (naming
 * the `tcp_connect` or `dns` grant to add), `unavailable` on timeouts,
 * refused connections and malformed answers, `invalid-config` for an
 * unusable URL (https included: the host's TLS is not reachable from the
 * JavaScript engine).
 */
export function request(url, options = {}) {
  const target = parseUrl(url);
  const req = {
    method: (options.method ?? "GET").toUpperCase(),
    url,
    target,
    headers: Object.entries(options.headers ?? {}).map(([n, v]) => [String(n).toLowerCase(), String(v)]),
    body: typeof options.body === "string" ? encode(options.body) : options.body ?? null,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  };
  if (!["GET", "POST", "PUT", "HEAD", "DELETE", "PATCH"].includes(req.method)) {
    throw new PluginError("other", `unsupported HTTP method ${req.method}`);
  }
  if (target.userinfo && !req.headers.some(([n]) => n === "authorization")) {
    const { user, password } = target.userinfo;
    req.headers.push(["authorization", `Basic ${base64(`${decodeURIComponent(user)}:${decodeURIComponent(password ?? "")}`)}`]);
  }
  const transport = bindings.transport;
  if (!transport) {
    throw new PluginError("unavailable", `HTTP requests need the wasmetheus host (${shown(url)}); in tests, install a fake with useTransport`);
  }
  return transport(req);
}

/** `request(url, {...options, method: "GET"})`. */
export function get(url, options = {}) {
  return request(url, { ...options, method: "GET" });
}

/** The body of a response as text (UTF-8, invalid bytes replaced). */
export function text(response) {
  return decode(response.body);
}

/**
 * Natively: answers requests with `fake(request)` (a test's stand-in for
 * the host), which returns `{status, body}` (`body` a string or bytes) or
 * throws a `PluginError`. Returns a function restoring the previous one.
 */
export function useTransport(fake) {
  const previous = bindings.transport;
  bindings.transport = (req) => {
    const answer = fake(req);
    let body = typeof answer.body === "string" ? encode(answer.body) : answer.body ?? new Uint8Array();
    let truncated = false;
    if (body.length > req.maxBodyBytes) {
      body = body.subarray(0, req.maxBodyBytes);
      truncated = true;
    }
    return { status: answer.status ?? 200, headers: answer.headers ?? [], body, truncated };
  };
  return () => {
    bindings.transport = previous;
  };
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function base64(textValue) {
  const bytes = encode(textValue);
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=";
    out += i + 2 < bytes.length ? B64[n & 63] : "=";
  }
  return out;
}
