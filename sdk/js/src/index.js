// wasmetheus-sdk: write wasmetheus exporter plugins in JavaScript.
//
// An exporter is a module whose default export is an object with
// `metadata()` (a `Metadata`) and `open(config)`, which returns an object
// with `collect(registry)`. Everything here is plain JavaScript, so a
// plugin's logic is tested natively with `node --test`; only the host's
// imports (logging, HTTP, files) need the host, and natively log to
// standard error, answer HTTP through a test's `useTransport` fake and read
// files with Node's `fs`.

export { PluginError, invalidConfig, denied, unavailable, other, toWitError } from "./errors.js";
export { Registry, FamilyBuilder, Kind } from "./registry.js";
export { Metadata, Capability } from "./metadata.js";
export { parseConfig, MAX_CONFIG_BYTES } from "./config.js";
export * as log from "./log.js";
export * as http from "./http.js";
export * as fs from "./fs.js";
