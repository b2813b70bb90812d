// Package metrics holds selfserve's own Prometheus metrics, registered with controller-runtime's
// registry and served on the manager's metrics endpoint.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// DriftCorrections counts objects the operator had to put back because they no longer matched
// their spec: a tenant's child edited or deleted, a Datadog SLO or monitor changed or deleted
// in Datadog.
var DriftCorrections = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "selfserve_drift_corrections_total",
	Help: "Objects restored to their spec, by kind.",
}, []string{"kind"})

// DuplicatesDeleted counts Datadog objects the operator deleted because another object carries
// the same CR's tag (and tier): left by a create whose answer was lost.
var DuplicatesDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "selfserve_datadog_duplicates_deleted_total",
	Help: "Duplicate Datadog SLOs and monitors deleted, by kind.",
}, []string{"kind"})

func init() { registry().MustRegister(DriftCorrections, DuplicatesDeleted) }

// registry is controller-runtime's, served on the manager's metrics endpoint.
func registry() prometheus.Registerer { return ctrlmetrics.Registry }
