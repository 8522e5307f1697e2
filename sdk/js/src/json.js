// A strict JSON parser for configurations: unlike `JSON.parse`, it refuses
// an object giving the same key twice, limits nesting, and says where the
// text went wrong as a line and column (the same in Node.js and inside the
// component, whose QuickJS words its own errors differently).

/** Nesting deeper than this is refused. */
export const MAX_DEPTH = 64;

/** A syntax error at `index` of the text: `message` says what was wrong. */
export class JsonError extends Error {
  constructor(message, index) {
    super(message);
    this.name = "JsonError";
    this.index = index;
  }
}

/** The 1-based line and column of `index` in `text` (columns count UTF-16 units). */
export function position(text, index) {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) {
    line += 1;
    start = i + 1;
  }
  return { line, column: index - start + 1 };
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

function shown(ch) {
  if (ch === undefined) return "the end of the text";
  const code = ch.charCodeAt(0);
  return code < 0x20 || code === 0x7f ? `character U+${code.toString(16).toUpperCase().padStart(4, "0")}` : `'${ch}'`;
}

/** Sets `key` on `object` as an own data property (even `__proto__`). */
function put(object, key, value) {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Parses `text` as one JSON value. Throws a `JsonError` for bad syntax,
 * a key given twice in an object, or nesting over `maxDepth`.
 */
export function parseJson(text, { maxDepth = MAX_DEPTH } = {}) {
  let i = 0;
  const n = text.length;

  const space = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i += 1;
    }
  };
  const unexpected = (what) => new JsonError(`unexpected ${shown(text[i])}${what ? `, expected ${what}` : ""}`, i);

  const string = () => {
    const start = i;
    i += 1; // the opening quote
    let out = "";
    let run = i;
    for (;;) {
      if (i >= n) throw new JsonError("unterminated string", start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(run, i);
        i += 1;
        return out;
      }
      if (c < 0x20) throw new JsonError(`${shown(text[i])} inside a string (escape it)`, i);
      if (c !== 0x5c) {
        i += 1;
        continue;
      }
      out += text.slice(run, i);
      const e = text[i + 1];
      if (e === "u") {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonError("\\u must be followed by four hex digits", i);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e];
        i += 2;
      } else {
        throw new JsonError(`invalid escape \\${e ?? ""} in a string`, i);
      }
      run = i;
    }
  };

  const value = (depth) => {
    space();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= maxDepth) throw new JsonError(`nested more than ${maxDepth} levels deep`, i);
      return c === "{" ? object(depth + 1) : array(depth + 1);
    }
    if (c === '"') return string();
    if (c === "-" || (c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) throw unexpected("a number");
      i += m[0].length;
      return Number(m[0]);
    }
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    throw unexpected("a value");
  };

  const object = (depth) => {
    const out = {};
    const seen = new Set();
    i += 1;
    space();
    if (text[i] === "}") {
      i += 1;
      return out;
    }
    for (;;) {
      space();
      if (text[i] !== '"') throw unexpected("a key in double quotes");
      const at = i;
      const key = string();
      if (seen.has(key)) throw new JsonError(`the key ${JSON.stringify(key)} is given twice in one object`, at);
      seen.add(key);
      space();
      if (text[i] !== ":") throw unexpected("':'");
      i += 1;
      put(out, key, value(depth));
      space();
      if (text[i] === ",") {
        i += 1;
        continue;
      }
      if (text[i] === "}") {
        i += 1;
        return out;
      }
      throw unexpected("',' or '}'");
    }
  };

  const array = (depth) => {
    const out = [];
    i += 1;
    space();
    if (text[i] === "]") {
      i += 1;
      return out;
    }
    for (;;) {
      out.push(value(depth));
      space();
      if (text[i] === ",") {
        i += 1;
        continue;
      }
      if (text[i] === "]") {
        i += 1;
        return out;
      }
      throw unexpected("',' or ']'");
    }
  };

  const result = value(0);
  space();
  if (i < n) throw unexpected("nothing after the value");
  return result;
}
