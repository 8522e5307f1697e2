// What a plugin says about itself: identity, config schema and the
// capabilities it asks the operator for (WIT `plugin-metadata`).

const NAME = /^[a-z0-9-]+$/;

/** The capabilities of the WIT `capability` variant. */
export const Capability = Object.freeze({
  /** Read-only access to a directory tree. */
  readPath: (path) => ({ tag: "read-path", val: String(path) }),
  /** TCP connections to `host:port`. */
  tcpConnect: (address) => ({ tag: "tcp-connect", val: String(address) }),
  /** HTTP requests to an origin such as `http://127.0.0.1:8080`. */
  httpOrigin: (origin) => ({ tag: "http-origin", val: String(origin) }),
  /** Reading one environment variable. */
  envVar: (name) => ({ tag: "env-var", val: String(name) }),
  /** Name resolution through DNS. */
  dnsLookup: () => ({ tag: "dns-lookup" }),
  /** Size and usage of the file systems mounted under a path. */
  filesystemUsage: (path) => ({ tag: "filesystem-usage", val: String(path) }),
});

/**
 * Plugin metadata: `new Metadata(name, version, description)`, then
 * `configSchema(...)` and `request(...)`/`requestOptional(...)`, chained.
 */
export class Metadata {
  constructor(name, version, description) {
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new TypeError(`plugin name ${JSON.stringify(name)} must match [a-z0-9-]+`);
    }
    this.name = name;
    this.version = String(version);
    this.description = String(description);
    this.schema = "";
    this.capabilities = [];
  }

  /**
   * The JSON Schema of the configuration `open` accepts, as an object or
   * text. Give it an `examples` array: `wasmetheus check plugins` opens the
   * plugin with the first one. Declare a setting holding a secret with
   * `"writeOnly": true`; the host then shows its value as `<secret>`.
   */
  configSchema(schema) {
    this.schema = typeof schema === "string" ? schema : JSON.stringify(schema);
    return this;
  }

  /** Asks for a capability the plugin cannot work without. */
  request(capability, reason) {
    this.capabilities.push({ capability, reason: String(reason), optional: false });
    return this;
  }

  /** Asks for a capability the plugin can do without, producing less. */
  requestOptional(capability, reason) {
    this.capabilities.push({ capability, reason: String(reason), optional: true });
    return this;
  }

  /** As the WIT `plugin-metadata` record. */
  toWit() {
    return {
      name: this.name,
      version: this.version,
      description: this.description,
      configSchema: this.schema,
      capabilities: this.capabilities.map((c) => ({ ...c })),
    };
  }
}
