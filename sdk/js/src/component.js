// The glue between a plugin's exporter object and the WIT exports of the
// `exporter` world. The build imports it from a generated entry module;
// plugin code and its native tests never import it (the `wasmetheus:` and
// `wasi:` modules exist only inside the component).

import * as host from "wasmetheus:plugin/host@0.1.0";
import { toWitError } from "./errors.js";
import { install } from "./host.js";
import { Metadata } from "./metadata.js";
import { Registry } from "./registry.js";
import { readFile } from "./wasi-fs.js";
import { send } from "./wasi-tcp.js";

install({ host, transport: send, readFile });

/**
 * The `metrics` interface for `exporter`: an object with `metadata()`
 * (a `Metadata`) and `open(config)` returning an object whose
 * `collect(registry)` adds the current metrics to `registry`.
 */
export function exportExporter(exporter) {
  class Collector {
    #inner;

    constructor(inner) {
      this.#inner = inner;
    }

    static open(config) {
      let inner;
      try {
        inner = exporter.open(config);
        if (!inner || typeof inner.collect !== "function") {
          throw new TypeError("open() must return an object with a collect(registry) method");
        }
      } catch (e) {
        throw toWitError(e);
      }
      return new Collector(inner);
    }

    collect() {
      const out = new Registry();
      try {
        this.#inner.collect(out);
        return out.toWit();
      } catch (e) {
        throw toWitError(e);
      }
    }
  }

  return {
    metadata() {
      const metadata = exporter.metadata();
      return metadata instanceof Metadata ? metadata.toWit() : metadata;
    },
    Collector,
  };
}
