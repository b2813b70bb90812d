// Package metrics holds selfserve's own Prometheus metrics, registered with controller-runtime's
// registry and served on the manager's metrics endpoint.
package metrics
