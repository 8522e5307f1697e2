// The `fs.js` reader inside the host: the file is opened relative to the
// instance's WASI preopen (one per `read_paths` grant, at the granted path)
// that contains it, read in bounded pieces, and every descriptor is
// dropped before returning. Imported only by `component.js`.

import * as preopens from "wasi:filesystem/preopens@0.2.12";
import { PluginError } from "./errors.js";
import { concat } from "./http1.js";
import { grantFor, notGranted } from "./fs.js";

function drop(resource) {
  try {
    resource?.[Symbol.dispose]?.();
  } catch {
    // Already dropped.
  }
}

function code(err) {
  if (typeof err === "string") return err;
  const p = err?.payload ?? err?.val ?? err;
  return typeof p === "string" ? p : p?.tag ?? String(err?.message ?? err);
}

function failure(path, errorCode) {
  if (errorCode === "access" || errorCode === "not-permitted") {
    return new PluginError("denied", `read path ${path}: permission denied (${errorCode})`);
  }
  const what = { "no-entry": "no such file", "is-directory": "a directory, not a file", "not-directory": "a part of the path is not a directory" }[errorCode];
  return new PluginError("unavailable", `${path}: ${what ?? errorCode}`);
}

/** Reads `path` (absolute, plain) through the preopen containing it. */
export function readFile(path, maxBytes) {
  const dirs = preopens.getDirectories();
  let file;
  try {
    const root = grantFor(path, dirs.map(([, p]) => p));
    if (root === null) throw notGranted(path);
    const dir = dirs.find(([, p]) => (p.length > 1 ? p.replace(/\/+$/, "") : p) === root)[0];
    const relative = root === "/" ? path.slice(1) : path.slice(root.length + 1);
    try {
      file = dir.openAt({ symlinkFollow: true }, relative === "" ? "." : relative, {}, { read: true });
    } catch (e) {
      throw failure(path, code(e));
    }
    const chunks = [];
    let size = 0;
    for (;;) {
      let got;
      try {
        got = file.read(65536, size);
      } catch (e) {
        throw failure(path, code(e));
      }
      const [bytes, end] = got;
      chunks.push(bytes);
      size += bytes.length;
      if (size > maxBytes) throw new PluginError("unavailable", `${path}: over the ${maxBytes} bytes read at most`);
      if (end || bytes.length === 0) break;
    }
    return concat(chunks, size);
  } finally {
    drop(file);
    for (const [descriptor] of dirs) drop(descriptor);
  }
}
