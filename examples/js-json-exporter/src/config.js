// The json exporter's configuration: the URL to fetch and how fields of
// the JSON answer map to metrics, checked once at open (against the schema
// the metadata declares, then the paths and names in it) so that every
// mistake is an `invalid-config` error naming the setting to fix.

import { http, invalidConfig, parseConfig } from "wasmetheus-sdk";
import { compile, PathError } from "./jsonpath.js";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIX = /^[a-zA-Z0-9_]+$/;
const TYPES = ["gauge", "counter", "untyped", "info"];
const MAX_METRICS = 1000;

/** The JSON Schema shown to operators; `examples[0]` is what `check plugins` opens. */
export const SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["url", "metrics"],
  additionalProperties: false,
  properties: {
    url: {
      type: "string",
      writeOnly: true,
      description: "The http URL answering JSON (a user:password in it becomes basic auth; the API shows the URL as <secret>); grant its host:port under tcp_connect (and dns when the host is a name other than localhost).",
    },
    headers: {
      type: "object",
      description: "Request headers, e.g. Authorization.",
      additionalProperties: { type: "string", writeOnly: true },
      default: {},
    },
    timeout_ms: { type: "integer", minimum: 1, maximum: 60000, default: 5000 },
    max_body_bytes: { type: "integer", minimum: 1, maximum: 67108864, default: 4194304 },
    max_series: { type: "integer", minimum: 1, maximum: 100000, default: 10000 },
    metrics: {
      type: "array",
      minItems: 1,
      maxItems: MAX_METRICS,
      items: {
        type: "object",
        required: ["name", "path"],
        additionalProperties: false,
        properties: {
          name: { type: "string", pattern: METRIC_NAME.source },
          help: { type: "string" },
          type: { enum: TYPES, default: "gauge" },
          path: { type: "string", description: "JSONPath ($.a.b[*], [?(@.x == \"y\")]) or json_exporter's {.a.b} form" },
          labels: {
            type: "object",
            description: "Label name to a path ($… from the document; @… or {.…} from the selected node when the metric has values or is an info metric, else from the document), a template with {.…} parts, or a fixed text",
            additionalProperties: { type: "string" },
          },
          values: {
            type: "object",
            description: "Suffix to a path or a number: one metric NAME_SUFFIX per entry for each selected node",
            additionalProperties: { type: ["string", "number"] },
          },
        },
      },
    },
  },
  examples: [
    {
      url: "http://localhost:80/status.json",
      metrics: [
        { name: "app_requests", help: "Requests served.", type: "counter", path: "$.requests" },
        { name: "app_queue", help: "Queues.", path: "$.queues[*]", labels: { queue: "@.name" }, values: { length: "@.length" } },
      ],
    },
  ],
};

function pathOrFail(where, text) {
  try {
    return compile(text);
  } catch (e) {
    if (e instanceof PathError) throw invalidConfig(`${where}: invalid path ${e.message}`);
    throw e;
  }
}

/**
 * A label's source: `{path}` for `$…`/`@…`/`{.…}` (whole), `{template}`
 * for text with `{.…}` parts, `{text}` for a fixed value.
 */
function labelSource(where, spec) {
  const trimmed = spec.trim();
  if (trimmed.startsWith("$") || trimmed.startsWith("@") || (trimmed.startsWith("{") && trimmed.endsWith("}") && trimmed.indexOf("{", 1) < 0)) {
    return { path: pathOrFail(where, trimmed) };
  }
  if (spec.includes("{")) {
    const parts = [];
    let rest = spec;
    while (rest.length > 0) {
      const open = rest.indexOf("{");
      if (open < 0) {
        parts.push(rest);
        break;
      }
      const close = rest.indexOf("}", open);
      if (close < 0) throw invalidConfig(`${where}: unclosed { in template ${JSON.stringify(spec)}`);
      if (open > 0) parts.push(rest.slice(0, open));
      parts.push(pathOrFail(where, rest.slice(open, close + 1)));
      rest = rest.slice(close + 1);
    }
    return { template: parts };
  }
  return { text: spec };
}

/**
 * Parses and checks the configuration text given to `open`: against
 * `SCHEMA` first (types, bounds, unknown keys, defaults), then what a
 * schema cannot say (URLs, paths, label names).
 */
export function parse(text) {
  const c = parseConfig(text, SCHEMA);
  const target = http.parseUrl(c.url);
  const metrics = c.metrics.map((m, i) => {
    const where = `config.metrics[${i}]`;
    const type = m.type;
    const labels = Object.entries(m.labels ?? {}).map(([name, spec]) => {
      if (!LABEL_NAME.test(name) || name.startsWith("__")) throw invalidConfig(`${where}.labels: invalid label name ${JSON.stringify(name)}`);
      return [name, labelSource(`${where}.labels.${name}`, spec)];
    });
    let values = null;
    if (m.values !== undefined) {
      if (Object.keys(m.values).length === 0) throw invalidConfig(`${where}.values is empty: give suffix: path or number entries, or leave it out`);
      if (type === "info") throw invalidConfig(`${where}: an info metric has no values (its labels carry the information)`);
      values = Object.entries(m.values).map(([suffix, spec]) => {
        if (!SUFFIX.test(suffix)) throw invalidConfig(`${where}.values: invalid suffix ${JSON.stringify(suffix)} (use [a-zA-Z0-9_]+)`);
        if (typeof spec === "number") return [suffix, { number: spec }];
        return [suffix, { path: pathOrFail(`${where}.values.${suffix}`, spec) }];
      });
    }
    return { name: m.name, help: m.help ?? "", type, path: pathOrFail(`${where}.path`, m.path), labels, values };
  });
  return { url: c.url, target, headers: c.headers, timeoutMs: c.timeout_ms, maxBodyBytes: c.max_body_bytes, maxSeries: c.max_series, metrics };
}
