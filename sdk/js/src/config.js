// Parsing an instance's JSON configuration, with errors that tell the
// operator which setting to fix.

import { invalidConfig } from "./errors.js";

/** The largest configuration accepted (the host's own limit is lower). */
export const MAX_CONFIG_BYTES = 1 << 20;

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && Number.isInteger(value)) return "integer";
  return typeof value;
}

function matches(type, value) {
  const actual = typeOf(value);
  return type === actual || (type === "number" && actual === "integer");
}

/**
 * Parses the configuration passed to `open`; an empty string counts as `{}`.
 *
 * `fields` describes the accepted settings: `{name: {type, required,
 * default}}` with `type` one of `string`, `number`, `integer`, `boolean`,
 * `object`, `array`. Unknown settings, missing required ones and wrong
 * types are `invalid-config` errors naming the setting. Without `fields`,
 * any JSON object is returned as is.
 */
export function parseConfig(text, fields) {
  const source = text == null || String(text).trim() === "" ? "{}" : String(text);
  if (source.length > MAX_CONFIG_BYTES) {
    throw invalidConfig(`the configuration is ${source.length} bytes; at most ${MAX_CONFIG_BYTES} are accepted`);
  }
  let config;
  try {
    config = JSON.parse(source);
  } catch (e) {
    throw invalidConfig(`not valid JSON: ${e.message}`);
  }
  if (typeOf(config) !== "object") {
    throw invalidConfig(`expected a JSON object of settings, got ${typeOf(config)}`);
  }
  if (!fields) return config;
  const known = Object.keys(fields);
  for (const key of Object.keys(config)) {
    if (!Object.hasOwn(fields, key)) {
      throw invalidConfig(`unknown setting \`${key}\`; expected one of: ${known.join(", ")}`);
    }
  }
  const out = {};
  for (const [key, spec] of Object.entries(fields)) {
    if (!Object.hasOwn(config, key) || config[key] === null) {
      if (spec.required) throw invalidConfig(`missing setting \`${key}\` (${spec.type ?? "any"})`);
      if (Object.hasOwn(spec, "default")) out[key] = structuredCloneSafe(spec.default);
      continue;
    }
    const value = config[key];
    if (spec.type && !matches(spec.type, value)) {
      throw invalidConfig(`setting \`${key}\` must be ${spec.type === "integer" || spec.type === "array" || spec.type === "object" ? "an" : "a"} ${spec.type}, got ${typeOf(value)}`);
    }
    out[key] = value;
  }
  return out;
}

function structuredCloneSafe(value) {
  return value !== null && typeof value === "object" ? JSON.parse(JSON.stringify(value)) : value;
}
