// go-exporter: an example wasmetheus exporter written in Go with sdk/go.
module wasmetheus.dev/examples/go-exporter

go 1.24

require wasmetheus.dev/sdk v0.0.0

replace wasmetheus.dev/sdk => ../../sdk/go
