// Parsing an instance's JSON configuration, checked against the plugin's
// own config schema (the one its `Metadata` declares), with errors that
// name the setting and say what is expected.
//
//     export const SCHEMA = {
//       type: "object",
//       properties: {
//         directory: { type: "string", minLength: 1 },
//         max_files: { type: "integer", minimum: 1, default: 1000 },
//       },
//       required: ["directory"],
//       examples: [{ directory: "/var/lib/node_exporter" }],
//     };
//     const settings = parseConfig(text, SCHEMA); // {directory: …, max_files: 1000}
//
// The schema subset understood: `type` (object, string, integer, number,
// boolean, array, null, or a list of them), `properties`, `required`,
// `additionalProperties` (false, true or a schema), `default`, `enum`,
// `const`, `minimum`, `maximum`, `minLength`, `maxLength`, `pattern`,
// `items`, `minItems`, `maxItems`. Other keywords are ignored. One choice
// stricter than JSON Schema: an object schema listing `properties` refuses
// any other key unless `additionalProperties` is `true` or a schema, so a
// misspelt setting is an error instead of being ignored.

import { PluginError, invalidConfig } from "./errors.js";
import { JsonError, parseJson, position, MAX_DEPTH } from "./json.js";

/** The largest configuration accepted, in UTF-8 bytes. */
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

function describe(value) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function put(object, key, value) {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

function copy(value) {
  return value !== null && typeof value === "object" ? JSON.parse(JSON.stringify(value)) : value;
}

function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i += 1;
      bytes += d >= 0xdc00 && d <= 0xdfff ? 4 : 3;
    } else bytes += 3;
  }
  return bytes;
}

function check(value, schema, where) {
  if (!isObject(schema)) return value;
  const expected = schema.type;
  if (expected !== undefined) {
    const kinds = Array.isArray(expected) ? expected : [expected];
    if (!kinds.some((k) => matches(k, value))) {
      throw invalidConfig(`${where}: expected ${kinds.join(" or ")}, got ${describe(value)}`);
    }
  }
  if (Object.hasOwn(schema, "const") && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    throw invalidConfig(`${where}: must be ${describe(schema.const)}, got ${describe(value)}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((c) => JSON.stringify(c) === JSON.stringify(value))) {
    throw invalidConfig(`${where}: ${describe(value)} is not one of ${schema.enum.map((c) => JSON.stringify(c)).join(", ")}`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) {
      throw invalidConfig(`${where}: ${value} is less than the minimum ${schema.minimum}`);
    }
    if (typeof schema.maximum === "number" && value > schema.maximum) {
      throw invalidConfig(`${where}: ${value} is more than the maximum ${schema.maximum}`);
    }
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof schema.minLength === "number" && length < schema.minLength) {
      throw invalidConfig(`${where}: must be at least ${schema.minLength} characters long`);
    }
    if (typeof schema.maxLength === "number" && length > schema.maxLength) {
      throw invalidConfig(`${where}: must be at most ${schema.maxLength} characters long`);
    }
    if (typeof schema.pattern === "string") {
      let pattern;
      try {
        pattern = new RegExp(schema.pattern, "u");
      } catch (e) {
        throw new PluginError("other", `the config schema's pattern for ${where} is not a valid regular expression: ${e.message}`);
      }
      if (!pattern.test(value)) {
        throw invalidConfig(`${where}: ${describe(value)} does not match the pattern ${schema.pattern}`);
      }
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) {
      throw invalidConfig(`${where}: needs at least ${schema.minItems} ${schema.minItems === 1 ? "entry" : "entries"}`);
    }
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) {
      throw invalidConfig(`${where}: takes at most ${schema.maxItems} entries, got ${value.length}`);
    }
    if (isObject(schema.items)) return value.map((v, i) => check(v, schema.items, `${where}[${i}]`));
  }
  if (isObject(value)) return checkObject(value, schema, where);
  return value;
}

function checkObject(value, schema, where) {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const known = Object.keys(properties);
  let extra = schema.additionalProperties;
  if (extra === undefined) extra = known.length === 0;
  const out = {};
  for (const [key, item] of Object.entries(value)) {
    const path = `${where}.${key}`;
    if (Object.hasOwn(properties, key)) put(out, key, check(item, properties[key], path));
    else if (isObject(extra)) put(out, key, check(item, extra, path));
    else if (extra === true) put(out, key, item);
    else {
      throw invalidConfig(`${where}: unknown setting \`${key}\` (known settings: ${known.join(", ") || "none"})`);
    }
  }
  for (const key of Array.isArray(schema.required) ? schema.required : []) {
    if (!Object.hasOwn(out, key)) {
      const type = properties[key]?.type;
      throw invalidConfig(`${where}: missing setting \`${key}\`${type ? ` (${[].concat(type).join(" or ")})` : ""}`);
    }
  }
  for (const [key, sub] of Object.entries(properties)) {
    if (!Object.hasOwn(out, key) && isObject(sub) && Object.hasOwn(sub, "default")) put(out, key, copy(sub.default));
  }
  return out;
}

/** Whether `spec` is the older `{name: {type, required, default}}` form. */
function isFieldMap(spec) {
  if (typeof spec.type === "string" || Array.isArray(spec.type) || "$schema" in spec) return false;
  if (isObject(spec.properties) && typeof spec.properties.type !== "string") return false;
  return Object.values(spec).every((f) => isObject(f) && !Array.isArray(f.required));
}

/** The older `{name: {type, required, default}}` form as a schema. */
function fromFieldMap(fields) {
  const properties = {};
  const required = [];
  for (const [key, f] of Object.entries(fields)) {
    const sub = {};
    if (f.type !== undefined) sub.type = f.type;
    if (Object.hasOwn(f, "default")) sub.default = f.default;
    put(properties, key, sub);
    if (f.required) required.push(key);
  }
  return { type: "object", properties, required, additionalProperties: Object.keys(properties).length === 0 };
}

/**
 * Parses the configuration `open` received: a JSON object of at most
 * 1 MiB, no key given twice; an empty string counts as `{}`. With
 * `schema` (the plugin's config schema, as given to `Metadata`), checks it
 * and fills in the schema's defaults. Every problem is an `invalid-config`
 * error naming the setting at fault, e.g. `config.timeout_ms: 0 is less
 * than the minimum 1` or `config is not valid JSON: unexpected '}',
 * expected a value at line 3 column 1`.
 *
 * The older form `parseConfig(text, {name: {type, required, default}})`
 * still works: it is the schema of an object with those properties.
 */
export function parseConfig(text, schema) {
  const source = text == null ? "" : String(text);
  if (source.length > MAX_CONFIG_BYTES || (source.length * 3 > MAX_CONFIG_BYTES && utf8Length(source) > MAX_CONFIG_BYTES)) {
    throw invalidConfig(`the config is ${utf8Length(source)} bytes, more than the ${MAX_CONFIG_BYTES} (1 MiB) accepted`);
  }
  let config = {};
  if (source.trim() !== "") {
    try {
      config = parseJson(source, { maxDepth: MAX_DEPTH });
    } catch (e) {
      if (!(e instanceof JsonError)) throw e;
      const { line, column } = position(source, e.index);
      throw invalidConfig(`config is not valid JSON: ${e.message} at line ${line} column ${column}`);
    }
  }
  if (!isObject(config)) {
    throw invalidConfig(`expected a JSON object of settings, got ${describe(config)}`);
  }
  if (schema == null) return config;
  if (typeof schema === "string") schema = JSON.parse(schema);
  if (!isObject(schema)) throw new TypeError("parseConfig: the schema must be a JSON Schema object");
  return check(config, isFieldMap(schema) ? fromFieldMap(schema) : schema, "config");
}
