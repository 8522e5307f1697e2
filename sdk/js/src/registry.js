// The output of one collection: metric families built with a small builder,
// and their conversion to the WIT `metric-family` records.

import { PluginError } from "./errors.js";

/** The metric kinds of the WIT `metric-kind` enum. */
export const Kind = Object.freeze({
  COUNTER: "counter",
  GAUGE: "gauge",
  UNTYPED: "untyped",
  HISTOGRAM: "histogram",
  SUMMARY: "summary",
  INFO: "info",
  STATESET: "stateset",
  GAUGE_HISTOGRAM: "gauge-histogram",
});

const KINDS = new Set(Object.values(Kind));
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const UNIT = /^[a-zA-Z0-9_]*$/;

function fail(message) {
  return new PluginError("other", message);
}

/** Labels given as `{name: value}` or `[[name, value], …]`, checked. */
function labelList(family, labels) {
  if (labels == null) return [];
  const pairs = Array.isArray(labels) ? labels : Object.entries(labels);
  const seen = new Set();
  return pairs.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw fail(`${family}: labels must be an object or a list of [name, value] pairs`);
    }
    const [name, value] = pair;
    if (typeof name !== "string" || !LABEL_NAME.test(name) || name.startsWith("__")) {
      throw fail(`${family}: invalid label name ${JSON.stringify(name)} (use [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)`);
    }
    if (seen.has(name)) throw fail(`${family}: label ${name} given twice`);
    seen.add(name);
    if (value == null) throw fail(`${family}: label ${name} has no value`);
    return [name, String(value)];
  });
}

function number(family, what, value) {
  if (typeof value !== "number") {
    throw fail(`${family}: ${what} must be a number, got ${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`);
  }
  return value;
}

function count(family, what, value) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw fail(`${family}: ${what} must be a non-negative integer, got ${String(value).slice(0, 40)}`);
  }
  return value;
}

/** Adds series to one family of a `Registry`; every method chains. */
export class FamilyBuilder {
  constructor(family) {
    this.family = family;
  }

  /** Sets the OpenMetrics unit, e.g. `seconds`. */
  unit(unit) {
    if (typeof unit !== "string" || !UNIT.test(unit)) {
      throw fail(`${this.family.name}: invalid unit ${JSON.stringify(unit)}`);
    }
    this.family.unit = unit;
    return this;
  }

  /** Adds the series without labels. */
  set(value) {
    return this.with(null, value);
  }

  /** Adds one series with `labels` (`{name: value}`) and `value`. */
  with(labels, value) {
    const name = this.family.name;
    return this.#push(labels, { tag: "number", val: number(name, "value", value) });
  }

  /** Adds one info series (value 1) whose labels carry the information. */
  info(labels) {
    return this.with(labels, 1);
  }

  /**
   * Adds one histogram series. `value` is `{buckets, count, sum}` with
   * `buckets` cumulative, as `[{upperBound, cumulativeCount}]` or
   * `[[upperBound, cumulativeCount]]`, sorted by upper bound.
   */
  histogram(labels, value) {
    const name = this.family.name;
    const buckets = (value?.buckets ?? []).map((b) => {
      const [upperBound, cumulativeCount] = Array.isArray(b) ? b : [b?.upperBound, b?.cumulativeCount];
      return {
        upperBound: number(name, "bucket upper bound", upperBound),
        cumulativeCount: count(name, "bucket count", cumulativeCount),
      };
    });
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i].upperBound > buckets[i - 1].upperBound)) {
        throw fail(`${name}: histogram buckets must be sorted by increasing upper bound`);
      }
    }
    const val = { buckets, count: count(name, "count", value?.count), sum: number(name, "sum", value?.sum) };
    return this.#push(labels, { tag: "histogram", val });
  }

  /**
   * Adds one summary series: `{quantiles, count, sum}` with `quantiles` as
   * `[{quantile, value}]` or `[[quantile, value]]`, quantiles in [0, 1].
   */
  summary(labels, value) {
    const name = this.family.name;
    const quantiles = (value?.quantiles ?? []).map((q) => {
      const [quantile, v] = Array.isArray(q) ? q : [q?.quantile, q?.value];
      number(name, "quantile", quantile);
      if (!(quantile >= 0 && quantile <= 1)) throw fail(`${name}: quantile ${quantile} is not in [0, 1]`);
      return { quantile, value: number(name, "quantile value", v) };
    });
    const val = { quantiles, count: count(name, "count", value?.count), sum: number(name, "sum", value?.sum) };
    return this.#push(labels, { tag: "summary", val });
  }

  #push(labels, value) {
    this.family.metrics.push({ labels: labelList(this.family.name, labels), value });
    return this;
  }
}

/** Everything one `collect` produced, families in insertion order. */
export class Registry {
  #families = [];
  #byName = new Map();

  /**
   * The family `name`, created with `kind` and `help` on first use. Later
   * calls with the same name add series to the same family.
   */
  family(name, kind, help = "") {
    if (typeof name !== "string" || !METRIC_NAME.test(name)) {
      throw fail(`invalid metric name ${JSON.stringify(name)} (use [a-zA-Z_:][a-zA-Z0-9_:]*)`);
    }
    if (!KINDS.has(kind)) throw fail(`${name}: unknown metric kind ${JSON.stringify(kind)}`);
    let family = this.#byName.get(name);
    if (!family) {
      family = { name, kind, help: String(help), unit: "", metrics: [] };
      this.#byName.set(name, family);
      this.#families.push(family);
    } else if (family.kind !== kind) {
      throw fail(`${name}: already a ${family.kind}, cannot add ${kind} series`);
    }
    return new FamilyBuilder(family);
  }

  counter(name, help) {
    return this.family(name, Kind.COUNTER, help);
  }

  gauge(name, help) {
    return this.family(name, Kind.GAUGE, help);
  }

  untyped(name, help) {
    return this.family(name, Kind.UNTYPED, help);
  }

  histogram(name, help) {
    return this.family(name, Kind.HISTOGRAM, help);
  }

  summary(name, help) {
    return this.family(name, Kind.SUMMARY, help);
  }

  /** An info family: series valued 1 whose labels carry the information. */
  info(name, help) {
    return this.family(name, Kind.INFO, help);
  }

  /** The families, in the order they were first named. */
  get families() {
    return this.#families;
  }

  /** The family called `name`, for tests. */
  get(name) {
    return this.#byName.get(name);
  }

  /** The value of the series of `name` with exactly `labels`, for tests. */
  value(name, labels = {}) {
    const want = labelList(name, labels).sort().join("\u0000");
    const metric = this.get(name)?.metrics.find((m) => [...m.labels].sort().join("\u0000") === want);
    return metric?.value.val;
  }

  /** The families as the WIT `list<metric-family>`. */
  toWit() {
    return this.#families.map((f) => ({
      name: f.name,
      kind: f.kind,
      help: f.help,
      unit: f.unit,
      metrics: f.metrics.map((m) => ({
        labels: m.labels.map(([name, value]) => ({ name, value })),
        value: m.value,
        timestampMs: undefined,
      })),
    }));
  }
}
