// Reading files under a path the operator granted (`read_paths`). In the
// host, through the instance's WASI preopens (`wasi-fs.js`); natively,
// through Node's `fs`. A path outside every grant is a `denied` error that
// says which grant to add (WASI alone would report it as absent).

import { PluginError } from "./errors.js";
import { bindings } from "./host.js";
import { decode } from "./utf8.js";

/** The default cap on a file read; past it the read fails. */
export const DEFAULT_MAX_BYTES = 16 << 20;

/** Whether `path` is absolute and free of `.` and `..` components. */
export function isPlain(path) {
  return typeof path === "string" && path.startsWith("/") && !path.split("/").some((c) => c === ".." || c === ".");
}

/** The longest of `granted` containing `path` (by whole components), or null. */
export function grantFor(path, granted) {
  let best = null;
  for (const g of granted) {
    const root = g.length > 1 ? g.replace(/\/+$/, "") : g;
    const inside = root === "/" || path === root || path.startsWith(`${root}/`);
    if (inside && (best === null || root.length > best.length)) best = root;
  }
  return best;
}

export function notGranted(path) {
  return new PluginError("denied", `read path ${path}: not granted (add a read_paths grant covering it)`);
}

function nativeRead(path, maxBytes) {
  const fs = globalThis.process?.getBuiltinModule?.("node:fs");
  if (!fs) throw new PluginError("unavailable", `reading ${path} needs the wasmetheus host or Node.js 20.16+`);
  try {
    const size = fs.statSync(path).size;
    if (size > maxBytes) throw new PluginError("unavailable", `${path}: ${size} bytes, over the ${maxBytes} read at most`);
    return new Uint8Array(fs.readFileSync(path));
  } catch (e) {
    if (e instanceof PluginError) throw e;
    if (e.code === "EACCES" || e.code === "EPERM") throw new PluginError("denied", `read path ${path}: permission denied (${e.code})`);
    throw new PluginError("unavailable", `${path}: ${e.code ?? e.message}`);
  }
}

/**
 * The bytes of the file at `path` (absolute), at most `maxBytes` (a larger
 * file is an `unavailable` error, not a cut). `denied` names the grant to
 * add when no `read_paths` grant covers `path`.
 */
export function readBytes(path, { maxBytes = DEFAULT_MAX_BYTES } = {}) {
  if (!isPlain(path)) {
    throw new PluginError("invalid-config", `${JSON.stringify(String(path))}: give an absolute path without . or .. components`);
  }
  return bindings.readFile ? bindings.readFile(path, maxBytes) : nativeRead(path, maxBytes);
}

/** The file at `path` as UTF-8 text; see `readBytes`. */
export function readText(path, options) {
  return decode(readBytes(path, options));
}

/** The read-only paths granted to this instance; natively, `["/"]`. */
export function grantedReadPaths() {
  return bindings.host ? bindings.host.grantedReadPaths() : ["/"];
}
