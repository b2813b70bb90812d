// Package operator assembles selfserve's manager: scheme, metrics, probes, leader election,
// webhook server, webhooks and controllers. cmd/main.go and the local sandbox both run it.
package operator
