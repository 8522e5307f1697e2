// Logging through the host, tagged with the plugin instance. Natively the
// lines go to standard error, or to the sink a test set with `captureLogs`.

import { bindings } from "./host.js";

const LEVELS = ["trace", "debug", "info", "warn", "error"];

/** Writes `message` at `level` (`trace`, `debug`, `info`, `warn`, `error`). */
export function log(level, message) {
  const lvl = LEVELS.includes(level) ? level : "info";
  const text = String(message);
  if (bindings.host) {
    bindings.host.log(lvl, text);
  } else if (bindings.logSink) {
    bindings.logSink(lvl, text);
  } else {
    console.error(`${lvl}: ${text}`);
  }
}

export const trace = (message) => log("trace", message);
export const debug = (message) => log("debug", message);
export const info = (message) => log("info", message);
export const warn = (message) => log("warn", message);
/**
 * Logs at `error` level. Called during `collect`, the message also becomes
 * the instance's last collect error in `/api/v1/plugins`, even when the
 * collect returns metrics.
 */
export const error = (message) => log("error", message);

/**
 * Natively: collects log lines into the returned array instead of standard
 * error, until `stop()` is called. For tests.
 */
export function captureLogs() {
  const lines = [];
  const previous = bindings.logSink;
  bindings.logSink = (level, message) => lines.push({ level, message });
  Object.defineProperty(lines, "stop", {
    value: () => {
      bindings.logSink = previous;
    },
  });
  return lines;
}

/** The instance's name from the host config; natively `test`. */
export function instanceName() {
  return bindings.host ? bindings.host.instanceName() : "test";
}
