// Native tests of the file helper: grants matched by whole components,
// paths refused before any read, sizes capped, clear errors, simulated
// grants denying as in the host.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fs } from "../src/index.js";
import { grantFor } from "../src/fs.js";

test("a grant covers its own tree only, the longest one wins", () => {
  assert.equal(grantFor("/proc/net/snmp", ["/proc"]), "/proc");
  assert.equal(grantFor("/proc", ["/proc/"]), "/proc");
  assert.equal(grantFor("/procfs/x", ["/proc"]), null);
  assert.equal(grantFor("/var/lib/x", ["/", "/var/lib"]), "/var/lib");
  assert.equal(grantFor("/etc/hosts", []), null);
});

test("reads text and bytes, caps the size, explains failures", () => {
  const dir = mkdtempSync(join(tmpdir(), "wasmetheus-sdk-"));
  try {
    writeFileSync(join(dir, "a.prom"), "été 1\n");
    assert.equal(fs.readText(join(dir, "a.prom")), "été 1\n");
    assert.equal(fs.readBytes(join(dir, "a.prom")).length, 8);
    assert.throws(() => fs.readBytes(join(dir, "a.prom"), { maxBytes: 4 }), (e) => e.kind === "unavailable" && /over the 4 read at most/.test(e.message));
    assert.throws(() => fs.readText(join(dir, "missing")), (e) => e.kind === "unavailable" && /ENOENT/.test(e.message));
    for (const bad of ["relative/path", `${dir}/../etc/passwd`, `${dir}/./a.prom`, 42]) {
      assert.throws(() => fs.readText(bad), (e) => e.kind === "other" && /absolute path without/.test(e.message));
    }
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("simulated grants deny as the host does", () => {
  const dir = mkdtempSync(join(tmpdir(), "wasmetheus-sdk-"));
  try {
    mkdirSync(join(dir, "granted"));
    writeFileSync(join(dir, "granted", "a"), "in\n");
    writeFileSync(join(dir, "outside"), "out\n");
    symlinkSync(join(dir, "granted"), join(dir, "granted-not"));
    symlinkSync(join(dir, "outside"), join(dir, "granted", "escape"));
    symlinkSync("a", join(dir, "granted", "inside"));
    fs.setNativeGrants([join(dir, "granted")]);
    assert.deepEqual(fs.grantedReadPaths(), [join(dir, "granted")]);
    assert.equal(fs.readText(join(dir, "granted", "a")), "in\n");
    assert.equal(fs.readText(join(dir, "granted", "inside")), "in\n", "a link within the grant");
    for (const path of [join(dir, "outside"), join(dir, "granted", "escape"), join(dir, "granted-not", "a"), "/etc/hostname", "/proc/loadavg"]) {
      assert.throws(
        () => fs.readText(path),
        (e) => {
          assert.equal(e.kind, "denied");
          const suggestion = `/${path.split("/")[1]}`;
          assert.equal(e.message, `read path ${path}: not granted (add a read_paths grant of a directory that holds it, e.g. ${suggestion})`);
          return true;
        },
      );
    }
    assert.throws(() => fs.readText("/hostfile"), /e\.g\. \/\)$/);
    assert.throws(() => fs.readText(join(dir, "granted", "missing")), (e) => e.kind === "unavailable");
    assert.throws(() => fs.setNativeGrants(["relative"]), TypeError);
    fs.setNativeGrants([]);
    assert.throws(() => fs.readText(join(dir, "granted", "a")), (e) => e.kind === "denied");
    fs.setNativeGrants(null);
    assert.deepEqual(fs.grantedReadPaths(), ["/"]);
    assert.equal(fs.readText(join(dir, "outside")), "out\n");
  } finally {
    fs.setNativeGrants(null);
    rmSync(dir, { recursive: true });
  }
});
