// Native tests of the file helper: grants matched by whole components,
// paths refused before any read, sizes capped, clear errors.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
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
      assert.throws(() => fs.readText(bad), (e) => e.kind === "invalid-config" && /absolute path without/.test(e.message));
    }
  } finally {
    rmSync(dir, { recursive: true });
  }
});
