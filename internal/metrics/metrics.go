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

// QuotaUsedRatio is how much of each resource of a tenant's quota is used (1 is full), kept
// current at every reconcile of the tenant (its ResourceQuota's usage wakes it), without a
// status write: alert on it rather than on the status, which is refreshed at most once a minute
// below the thresholds.
var QuotaUsedRatio = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "selfserve_tenant_quota_used_ratio",
	Help: "Used over hard of each resource of a tenant's ResourceQuota.",
}, []string{"team", "tenant", "resource"})

// DatadogPolls counts the poller's reads of Datadog (the inventory refreshed for every
// ServiceSLO), by outcome: a benchmark divides the calls it counts by the polls it observed.
var DatadogPolls = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "selfserve_datadog_polls_total",
	Help: "Reads of Datadog by the poller, by outcome (ok, error).",
}, []string{"outcome"})

// DatadogRequests counts the operator's Datadog requests (the transport counts each attempt).
var DatadogRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "selfserve_datadog_requests_total",
	Help: "Datadog API requests by endpoint, method and status code (0: no answer).",
}, []string{"endpoint", "method", "code"})

// DatadogRepeatedPages counts pages of a Datadog list that held nothing new (the service
// answered an earlier page again) and were asked again, by read.
var DatadogRepeatedPages = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "selfserve_datadog_repeated_pages_total",
	Help: "Pages of a Datadog list or search that repeated what was read before and were asked again, by read.",
}, []string{"read"})

// UpgradeAllowed is 1 while a ClusterUpgradePolicy allows upgrades.
var UpgradeAllowed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "selfserve_upgrade_allowed",
	Help: "1 while the ClusterUpgradePolicy allows upgrades, 0 otherwise.",
}, []string{"policy"})

// AdmissionByPolicy says which guard rails kube-apiserver applies itself, by feature: 1 where
// a MutatingAdmissionPolicy does it (dns: pods' DNS settings; node_pool: a class's node pool
// added to its pods), 0 where the operator's webhook (dns) or nothing (node_pool: only enforced)
// does instead, on an apiserver that serves no MutatingAdmissionPolicy or by flag.
var AdmissionByPolicy = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "selfserve_admission_by_policy",
	Help: "1 where kube-apiserver applies the feature itself through a MutatingAdmissionPolicy, 0 otherwise, by feature (dns, node_pool).",
}, []string{"feature"})

// SetAdmissionByPolicy sets AdmissionByPolicy of a feature.
func SetAdmissionByPolicy(feature string, byPolicy bool) {
	v := 0.0
	if byPolicy {
		v = 1
	}
	AdmissionByPolicy.WithLabelValues(feature).Set(v)
}

// all are the project's own metrics, every one registered here, in one place.
var all = []prometheus.Collector{DriftCorrections, DuplicatesDeleted, QuotaUsedRatio, DatadogPolls, DatadogRequests, DatadogRepeatedPages, UpgradeAllowed, AdmissionByPolicy, tenants}

func init() { registry().MustRegister(all...) }

// registry is controller-runtime's, served on the manager's metrics endpoint.
func registry() prometheus.Registerer { return ctrlmetrics.Registry }
