module wasmetheus.dev/sdk

go 1.24
