// Reading files under a path the operator granted (`read_paths`). In the
// host, through the instance's WASI preopens (`wasi-fs.js`); natively,
// through Node's `fs`, where a test may set the grants to simulate
// (`setNativeGrants`). A path outside every grant is a `denied` error that
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

/** The directory suggested to grant for `path`: its first component, e.g. `/proc`. */
function suggestedGrant(path) {
  const first = path.split("/").find((c) => c !== "");
  return first === undefined || path.replace(/\/+$/, "") === `/${first}` ? "/" : `/${first}`;
}

/** The `denied` error for a path outside every grant. */
export function notGranted(path) {
  return new PluginError(
    "denied",
    `read path ${path}: not granted (add a read_paths grant of a directory that holds it, e.g. ${suggestedGrant(path)})`,
  );
}

/** The grants simulated natively, or null (everything readable). */
let nativeGrants = null;

/**
 * Natively, reads only under `paths` from now on, failing outside them
 * with the same `denied` error as in the host; `null` lifts the
 * simulation. For tests of what a plugin does when a path is not granted.
 * No effect inside the host, where the operator's grants apply.
 */
export function setNativeGrants(paths) {
  if (paths == null) {
    nativeGrants = null;
    return;
  }
  const list = [...paths].map(String);
  for (const p of list) {
    if (!isPlain(p)) throw new TypeError(`setNativeGrants: ${JSON.stringify(p)} is not an absolute path without . or ..`);
  }
  nativeGrants = list;
}

/**
 * Whether the simulated grants cover `path`: lexically, and (as the host's
 * sandbox does) once its symbolic links are resolved.
 */
function nativeGranted(fs, path) {
  if (grantFor(path, nativeGrants) === null) return false;
  const real = (p) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return null;
    }
  };
  const target = real(path);
  if (target === null) return true; // missing: the read says so
  return grantFor(target, nativeGrants.map((g) => real(g) ?? g)) !== null;
}

function nativeRead(path, maxBytes) {
  const fs = globalThis.process?.getBuiltinModule?.("node:fs");
  if (!fs) throw new PluginError("unavailable", `reading ${path} needs the wasmetheus host or Node.js 20.16+`);
  if (nativeGrants !== null && !nativeGranted(fs, path)) throw notGranted(path);
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
    // A bug of the plugin (a path from the config is checked at open).
    throw new PluginError("other", `fs: cannot read ${JSON.stringify(String(path))}: give an absolute path without . or .. components`);
  }
  return bindings.readFile ? bindings.readFile(path, maxBytes) : nativeRead(path, maxBytes);
}

/** The file at `path` as UTF-8 text; see `readBytes`. */
export function readText(path, options) {
  return decode(readBytes(path, options));
}

/**
 * The read-only paths granted to this instance; natively, those given to
 * `setNativeGrants`, else `["/"]`.
 */
let componentGrants = null;

export function grantedReadPaths() {
  if (bindings.host) {
    // An instance's grants are fixed for its life (the host builds them
    // when it opens the instance): asked once, not per read.
    if (componentGrants === null) componentGrants = [...bindings.host.grantedReadPaths()];
    return [...componentGrants];
  }
  return nativeGrants === null ? ["/"] : [...nativeGrants];
}
