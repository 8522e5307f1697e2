// Rolldown settings for `jco componentize --bundle`: the world's imports
// (`wasi:…`, `wasmetheus:…`) are the component's, not modules to bundle.
export default { external: [/^wasi:/, /^wasmetheus:/] };
