// The host's imports, when the plugin runs as a component. `component.js`
// installs them; natively (unit tests) they are absent and the helpers
// fall back to what a test provides.

export const bindings = {
  /** `wasmetheus:plugin/host` functions: `log`, `instanceName` … */
  host: null,
  /** Sends one HTTP request: `(request) => response`, see `http.js`. */
  transport: null,
  /** Reads a granted file: `(path, maxBytes) => Uint8Array`, see `fs.js`. */
  readFile: null,
  /** Receives log lines natively: `(level, message) => void`. */
  logSink: null,
};

/** Called once by the component glue. */
export function install(values) {
  Object.assign(bindings, values);
}
