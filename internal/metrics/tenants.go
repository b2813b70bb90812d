package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// tenantsDesc describes the TenantNamespaces gauge: counted from the manager's cache at scrape
// time, so it needs no bookkeeping in the reconciler and is never stale.
var tenantsDesc = prometheus.NewDesc("selfserve_tenants",
	"TenantNamespaces by class and Ready condition status (True, False, Unknown).",
	[]string{"class", "ready"}, nil)

// tenantCollector counts TenantNamespaces through the reader CountTenants was given.
type tenantCollector struct{ reader atomic.Pointer[client.Reader] }

var tenants = &tenantCollector{}

// CountTenants makes the selfserve_tenants gauge count the TenantNamespaces r lists (the
// manager's cache). Until it is called, the gauge has no series.
func CountTenants(r client.Reader) { tenants.reader.Store(&r) }

// Describe implements prometheus.Collector.
func (c *tenantCollector) Describe(ch chan<- *prometheus.Desc) { ch <- tenantsDesc }

// Collect implements prometheus.Collector. A cache that cannot answer within a second (not
// synced yet) yields no series rather than a slow scrape.
func (c *tenantCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.reader.Load()
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var list platformv1alpha1.TenantNamespaceList
	// Read only: not copied out of the cache at every scrape.
	if err := (*r).List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	type key struct{ class, ready string }
	counts := map[key]int{}
	for _, tn := range list.Items {
		ready := "Unknown"
		if cond := meta.FindStatusCondition(tn.Status.Conditions, platformv1alpha1.ConditionReady); cond != nil {
			ready = string(cond.Status)
		}
		// The class the operator resolved (the default class when the spec names none).
		class := tn.Status.Class
		if class == "" {
			class = tn.Spec.Class
		}
		counts[key{class, ready}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(tenantsDesc, prometheus.GaugeValue, float64(n), k.class, k.ready)
	}
}
