// wasmetheus.dev/sdk: the Go SDK for wasmetheus exporter plugins (standard
// library only; plugins use it through a replace directive).
module wasmetheus.dev/sdk

go 1.24
