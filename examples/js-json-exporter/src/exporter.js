// js-json-exporter: metrics from any JSON-over-HTTP endpoint, in the spirit
// of prometheus-community's json_exporter. Each collect fetches `url` (plain
// http, from a host:port the operator granted under tcp_connect) and maps fields selected by JSONPath to
// metrics. A failed scrape reports `json_up 0` and logs why (the instance's
// last collect error); values that are missing or not numbers are skipped,
// counted in `json_skipped_values` and logged.

import { Capability, Metadata, PluginError, http, log } from "wasmetheus-sdk";
import * as config from "./config.js";
import { select } from "./jsonpath.js";

export const NAME = "js-json-exporter";
export const VERSION = "0.1.0";
/** JSON nested deeper than this is refused before it is parsed. */
export const MAX_DEPTH = 200;

/** The depth of the deepest array or object in `text`, scanning no further than `limit`. */
export function nestingDepth(text, limit = MAX_DEPTH) {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 93 || c === 125) depth--;
  }
  return max;
}

/** Parses a response body, refusing what would be costly or is not JSON. */
export function parseBody(text, shownUrl) {
  const depth = nestingDepth(text);
  if (depth > MAX_DEPTH) {
    throw new PluginError("unavailable", `the answer of ${shownUrl} is nested more than ${MAX_DEPTH} levels deep; refused`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const start = JSON.stringify(text.slice(0, 40));
    throw new PluginError("unavailable", `the answer of ${shownUrl} is not JSON (${e.message}); it starts with ${start}`);
  }
}

/** A JSON value as a sample value: numbers, booleans (1/0), numeric strings. */
function sampleValue(node) {
  if (typeof node === "number") return node;
  if (typeof node === "boolean") return node ? 1 : 0;
  if (typeof node === "string" && node.trim() !== "") {
    const n = Number(node);
    if (!Number.isNaN(n) || node.trim() === "NaN") return n;
  }
  return undefined;
}

function describe(node) {
  if (node === undefined) return "missing";
  const text = JSON.stringify(node);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function scalarText(node) {
  if (node === undefined || node === null) return "";
  if (typeof node === "object") return undefined;
  return String(node);
}

function labelValue(source, root, node) {
  if (source.text !== undefined) return source.text;
  if (source.path) return scalarText(select(source.path, root, node, 1)[0]);
  let out = "";
  for (const part of source.template) {
    if (typeof part === "string") out += part;
    else {
      const v = scalarText(select(part, root, node, 1)[0]);
      if (v === undefined) return undefined;
      out += v;
    }
  }
  return out;
}

/**
 * Adds the metrics `metrics` (from `config.parse`) select in `doc` to `out`.
 * Returns `{skipped, firstSkip, series, capped}`; never throws for odd data.
 */
export function mapDocument(doc, metrics, out, maxSeries = 10_000) {
  const stats = { skipped: 0, firstSkip: null, series: 0, capped: false };
  const skip = (why) => {
    stats.skipped++;
    stats.firstSkip ??= why;
  };
  const seen = new Map();
  for (const m of metrics) {
    const nodes = select(m.path, doc, doc, maxSeries + 1);
    if (nodes.length === 0) skip(`${m.name}: ${m.path.text} selects nothing`);
    const emit = (name, labels, value) => {
      const key = `${name}\u0000${labels.map(([k, v]) => `${k}=${v}`).join("\u0000")}`;
      const keys = seen.get(name) ?? new Set();
      seen.set(name, keys);
      if (keys.has(key)) return skip(`${name}: two series with the labels ${JSON.stringify(Object.fromEntries(labels))}`);
      if (stats.series >= maxSeries) {
        stats.capped = true;
        return undefined;
      }
      keys.add(key);
      stats.series++;
      out.family(name, m.type, m.help).with(labels, value);
      return undefined;
    };
    // As json_exporter: a plain value's labels are looked up from the
    // document, an object's (with `values`, or an info metric's) from it.
    const fromNode = m.values !== null || m.type === "info";
    for (const node of nodes) {
      const labels = [];
      let ok = true;
      for (const [name, source] of m.labels) {
        const v = labelValue(source, doc, fromNode ? node : doc);
        if (v === undefined) {
          skip(`${m.name}: label ${name} is not a single value`);
          ok = false;
          break;
        }
        labels.push([name, v]);
      }
      if (!ok) continue;
      if (m.type === "info") {
        emit(m.name, labels, 1);
      } else if (m.values === null) {
        const v = sampleValue(node);
        if (v === undefined) skip(`${m.name}: ${m.path.text} is ${describe(node)}, not a number`);
        else emit(m.name, labels, v);
      } else {
        for (const [suffix, spec] of m.values) {
          const name = `${m.name}_${suffix}`;
          const raw = spec.number !== undefined ? spec.number : select(spec.path, doc, node, 1)[0];
          const v = sampleValue(raw);
          if (v === undefined) skip(`${name}: ${spec.path?.text} is ${describe(raw)}, not a number`);
          else emit(name, labels, v);
        }
      }
      if (stats.capped) break;
    }
    if (stats.capped) break;
  }
  return stats;
}

class JsonExporter {
  constructor(cfg) {
    this.cfg = cfg;
    this.shownUrl = http.shown(cfg.url);
  }

  fetch() {
    const cfg = this.cfg;
    const response = http.get(cfg.url, {
      headers: { accept: "application/json", ...cfg.headers },
      timeoutMs: cfg.timeoutMs,
      maxBodyBytes: cfg.maxBodyBytes,
    });
    if (response.status < 200 || response.status > 299) {
      throw new PluginError("unavailable", `${this.shownUrl} answered HTTP ${response.status}`);
    }
    if (response.truncated) {
      throw new PluginError("unavailable", `the answer of ${this.shownUrl} is over ${cfg.maxBodyBytes} bytes (raise max_body_bytes if it is expected)`);
    }
    return parseBody(http.text(response), this.shownUrl);
  }

  collect(out) {
    let up = 0;
    let stats = { skipped: 0 };
    try {
      const doc = this.fetch();
      stats = mapDocument(doc, this.cfg.metrics, out, this.cfg.maxSeries);
      up = 1;
    } catch (e) {
      if (!(e instanceof PluginError)) throw e;
      log.error(`scraping ${this.shownUrl}: ${e}`);
    }
    if (stats.capped) log.error(`more than max_series (${this.cfg.maxSeries}) series in the answer of ${this.shownUrl}; the rest is left out`);
    else if (stats.skipped > 0) log.warn(`${stats.skipped} values skipped, first: ${stats.firstSkip}`);
    out.gauge("json_up", "Whether the last fetch and parse of the JSON endpoint succeeded.").set(up);
    out.gauge("json_skipped_values", "Values skipped in the last scrape: missing, not numbers or repeated series.").set(stats.skipped);
  }
}

export default {
  metadata() {
    return new Metadata(NAME, VERSION, "Metrics from a JSON-over-HTTP endpoint, mapped by JSONPath (as json_exporter)")
      .configSchema(config.SCHEMA)
      .request(
        Capability.tcpConnect("localhost:80"),
        "the endpoint answering JSON over plain http; grant the host:port of the instance's url under tcp_connect instead",
      )
      .requestOptional(Capability.dnsLookup(), "only when the url names a host other than localhost");
  },
  open(text) {
    return new JsonExporter(config.parse(text));
  },
};
