// A small JSONPath subset, enough for json_exporter-style configs:
// `$` (the document) or `@` (the current object), `.name`, `['name']`,
// `[n]` (negative counts from the end), `[*]` and `.*`, and filters
// `[?(@.field == value)]` / `!=` with a string, number, boolean or null.
// json_exporter's `{.a.b[*]}` form means the same as `@.a.b[*]`.
// Paths are compiled once (errors name the position) and evaluated without
// recursion over the document, so deep nesting cannot exhaust the stack.

/** A path that could not be compiled; `message` says where and why. */
export class PathError extends Error {}

function fail(path, at, why) {
  return new PathError(`${JSON.stringify(path)} at character ${at + 1}: ${why}`);
}

const IDENT = /[A-Za-z0-9_$-]/;

/**
 * Compiles `path` into `{root, steps}`: `root` is `$` or `@`, `steps` a list
 * of `{field}`, `{index}`, `{wildcard}` or `{filter: {field, op, value}}`.
 */
export function compile(path) {
  if (typeof path !== "string") throw new PathError(`a path must be a string, got ${typeof path}`);
  let text = path.trim();
  if (text.startsWith("{") && text.endsWith("}")) text = text.slice(1, -1).trim();
  if (text.length > 1024) throw new PathError(`${JSON.stringify(path.slice(0, 40))}…: longer than 1024 characters`);
  let i = 0;
  let root = "@";
  if (text[0] === "$" || text[0] === "@") {
    root = text[0];
    i = 1;
  } else if (text[0] !== "." && text[0] !== "[") {
    throw fail(path, 0, "a path starts with $, @, . or [ (e.g. $.items[*].name)");
  }
  const steps = [];
  const readString = () => {
    const quote = text[i];
    let out = "";
    i++;
    while (i < text.length && text[i] !== quote) {
      if (text[i] === "\\" && i + 1 < text.length) i++;
      out += text[i++];
    }
    if (text[i] !== quote) throw fail(path, i, `unterminated string`);
    i++;
    return out;
  };
  const readLiteral = () => {
    if (text[i] === "'" || text[i] === '"') return readString();
    const m = /^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i));
    if (!m) throw fail(path, i, "expected a string, number, true, false or null");
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const skipSpaces = () => {
    while (text[i] === " ") i++;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === ".") {
      i++;
      if (text[i] === "*") {
        steps.push({ wildcard: true });
        i++;
        continue;
      }
      const start = i;
      while (i < text.length && IDENT.test(text[i])) i++;
      if (i === start) throw fail(path, i, "expected a field name after .");
      steps.push({ field: text.slice(start, i) });
    } else if (c === "[") {
      i++;
      skipSpaces();
      if (text[i] === "*") {
        i++;
        steps.push({ wildcard: true });
      } else if (text[i] === "'" || text[i] === '"') {
        steps.push({ field: readString() });
      } else if (text[i] === "?") {
        i++;
        skipSpaces();
        if (text[i] !== "(") throw fail(path, i, "expected ( after ?");
        i++;
        skipSpaces();
        if (text.slice(i, i + 2) !== "@.") throw fail(path, i, "a filter compares a field of @, e.g. [?(@.state == \"up\")]");
        i += 2;
        const start = i;
        while (i < text.length && IDENT.test(text[i])) i++;
        const field = text.slice(start, i);
        if (!field) throw fail(path, i, "expected a field name after @.");
        skipSpaces();
        const op = text.slice(i, i + 2);
        if (op !== "==" && op !== "!=") throw fail(path, i, "a filter compares with == or !=");
        i += 2;
        skipSpaces();
        const value = readLiteral();
        skipSpaces();
        if (text[i] !== ")") throw fail(path, i, "expected ) to close the filter");
        i++;
        steps.push({ filter: { field, op, value } });
      } else {
        const m = /^-?\d+/.exec(text.slice(i));
        if (!m) throw fail(path, i, "expected *, an index, a quoted name or ?(filter) inside []");
        i += m[0].length;
        steps.push({ index: Number(m[0]) });
      }
      skipSpaces();
      if (text[i] !== "]") throw fail(path, i, "expected ]");
      i++;
    } else {
      throw fail(path, i, `unexpected ${JSON.stringify(c)}`);
    }
  }
  return { root, steps, text: path };
}

/** Whether `compiled` can select more than one node. */
export function isMulti(compiled) {
  return compiled.steps.some((s) => s.wildcard || s.filter);
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * The nodes `compiled` selects in `root` (for `$`) or `current` (for `@`),
 * in document order; missing fields select nothing. At most `limit` nodes.
 */
export function select(compiled, root, current = root, limit = 100_000) {
  let nodes = [compiled.root === "$" ? root : current];
  for (const step of compiled.steps) {
    const next = [];
    for (const node of nodes) {
      if (step.field !== undefined) {
        if (isObject(node) && Object.hasOwn(node, step.field)) next.push(node[step.field]);
      } else if (step.index !== undefined) {
        if (Array.isArray(node)) {
          const at = step.index < 0 ? node.length + step.index : step.index;
          if (at >= 0 && at < node.length) next.push(node[at]);
        }
      } else if (step.wildcard) {
        if (Array.isArray(node)) next.push(...node.slice(0, limit));
        else if (isObject(node)) next.push(...Object.values(node).slice(0, limit));
      } else if (step.filter) {
        const { field, op, value } = step.filter;
        const items = Array.isArray(node) ? node : isObject(node) ? Object.values(node) : [];
        for (const item of items) {
          const has = isObject(item) && Object.hasOwn(item, field);
          const equal = has && item[field] === value;
          if (op === "==" ? equal : has && !equal) next.push(item);
        }
      }
      if (next.length > limit) break;
    }
    nodes = next.slice(0, limit);
  }
  return nodes;
}
