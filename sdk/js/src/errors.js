// What a plugin call can fail with: the WIT `error` variant as a JavaScript
// exception. Throw a `PluginError` from `open` or `collect`; anything else
// thrown reaches the host as `other` with its message.

/** The longest message passed to the host; the rest is cut. */
export const MAX_MESSAGE = 4096;

const KINDS = ["invalid-config", "denied", "unavailable", "other"];

function cut(message) {
  const text = String(message);
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

/**
 * An error with one of the WIT `error` kinds: `invalid-config` (say how to
 * fix the config), `denied` (name the capability to grant), `unavailable`
 * (the observed service failed; a later collect may work) or `other`.
 */
export class PluginError extends Error {
  constructor(kind, message) {
    if (!KINDS.includes(kind)) {
      throw new TypeError(`PluginError kind must be one of ${KINDS.join(", ")}, not ${JSON.stringify(kind)}`);
    }
    super(cut(message));
    this.name = "PluginError";
    this.kind = kind;
  }

  /** As the host shows it, e.g. `invalid config: url is missing`. */
  toString() {
    const prefix = { "invalid-config": "invalid config: ", denied: "denied: ", unavailable: "unavailable: ", other: "" };
    return prefix[this.kind] + this.message;
  }
}

export const invalidConfig = (message) => new PluginError("invalid-config", message);
export const denied = (message) => new PluginError("denied", message);
export const unavailable = (message) => new PluginError("unavailable", message);
export const other = (message) => new PluginError("other", message);

/** Turns anything thrown into the WIT `error` variant `{ tag, val }`. */
export function toWitError(err) {
  if (err instanceof PluginError) {
    return { tag: err.kind, val: err.message };
  }
  if (err instanceof Error) {
    // A bug in the plugin (TypeError, RangeError …): keep its kind in the text.
    return { tag: "other", val: cut(`${err.name}: ${err.message}`) };
  }
  return { tag: "other", val: cut(typeof err === "string" ? err : safeString(err)) };
}

function safeString(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
