package datadog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Tags of the baseline monitors of tenant namespaces. The sweep after each poll deletes those
// of this cluster whose tenant is gone; a Datadog account shared by several clusters keeps the
// others'.
const (
	TagKindTenant    = "selfserve-kind:tenantnamespace"
	TagClusterPrefix = "selfserve-cluster:"
	// TagClusterNamePrefix starts the tag naming the cluster (the operator's --cluster-name) on
	// every SLO and monitor it manages: what a downstream cluster's rollout gates select.
	TagClusterNamePrefix = "cluster:"
	// TagUpgradeDisrupted marks the monitors that an upgrade window's downtime mutes.
	TagUpgradeDisrupted = "selfserve-upgrade-disrupted:true"
)

// baselineQuery is a template's Datadog query for a namespace, without its comparison: the
// metrics the Datadog agent's Kubernetes checks send (kube_namespace tag), and the operator's
// own selfserve_tenant_quota_used_ratio as the agent's OpenMetrics check names it with
// namespace selfserve (tenant tag; docs/monitoring.md).
func baselineQuery(t platformv1alpha1.BaselineTemplate, ns, window string) (query, title string) {
	scope := "kube_namespace:" + ns
	switch t {
	case platformv1alpha1.BaselineCrashLooping:
		return fmt.Sprintf("max(last_%s):max:kubernetes_state.container.status_report.count.waiting{%s,reason:crashloopbackoff} by {pod_name}", window, scope),
			"containers in CrashLoopBackOff"
	case platformv1alpha1.BaselineOOMKilled:
		return fmt.Sprintf("max(last_%s):max:kubernetes.containers.last_state.terminated{%s,reason:oomkilled} by {pod_name}", window, scope),
			"containers OOM-killed"
	case platformv1alpha1.BaselinePodsPending:
		return fmt.Sprintf("min(last_%s):sum:kubernetes_state.pod.status_phase{%s,pod_phase:pending}", window, scope),
			"pods pending for " + window
	case platformv1alpha1.BaselineQuotaCritical:
		return fmt.Sprintf("max(last_%s):max:selfserve.tenant_quota_used_ratio{tenant:%s} by {resource}", window, ns),
			"quota nearly used up"
	case platformv1alpha1.BaselineNoAvailableReplicas:
		// A Deployment scaled to zero divides by zero: no value, no alert.
		return fmt.Sprintf("max(last_%s):max:kubernetes_state.deployment.replicas_available{%s} by {kube_deployment} / max:kubernetes_state.deployment.replicas_desired{%[2]s} by {kube_deployment}", window, scope),
			"Deployments with no available replica"
	}
	return "", ""
}

// comparator is how the query compares with the threshold.
func comparator(b tenancy.Baseline) string {
	switch {
	case b.Below:
		return "<="
	case b.Template == platformv1alpha1.BaselineQuotaCritical:
		return ">="
	}
	return ">"
}

// DesiredBaseline is the baseline monitor b of tenant namespace ns (its TenantNamespace's UID
// uid, of team and class, in the cluster whose kube-system namespace has the UID cluster and
// which is named clusterName, tagged cluster:<name> unless empty), notifying notify.
func DesiredBaseline(ns, uid, cluster, clusterName, team, class string, b tenancy.Baseline, notify []string) Monitor {
	query, title := baselineQuery(b.Template, ns, b.Window)
	threshold := strconv.FormatFloat(b.Critical, 'f', -1, 64)
	msg := fmt.Sprintf("%s in namespace %s of team %s (%s %s %s over %s). Baseline monitor %q of class %s, kept by selfserve: change it in the TenantClass, or tighten it in the TenantNamespace's spec.monitoring.",
		title, ns, team, b.Template, comparator(b), threshold, b.Window, b.Name, class)
	if len(notify) > 0 {
		msg += "\n" + strings.Join(notify, " ")
	}
	tags := []string{
		"team:" + team, "tenant:" + ns, "kube_namespace:" + ns, TagManaged, TagKindTenant,
		TagClusterPrefix + cluster, TagUIDPrefix + uid, TagTierPrefix + b.Name,
	}
	if b.Disrupted {
		tags = append(tags, TagUpgradeDisrupted)
	}
	if clusterName != "" {
		tags = append(tags, TagClusterNamePrefix+clusterName)
	}
	for i, t := range tags {
		tags[i] = strings.ToLower(t)
	}
	sort.Strings(tags)
	return Monitor{
		Tier:     b.Name,
		Type:     string(datadogV1.MONITORTYPE_QUERY_ALERT),
		Name:     fmt.Sprintf("[%s] %s: %s", team, ns, title),
		Query:    query + " " + comparator(b) + " " + threshold,
		Message:  msg,
		Tags:     tags,
		Priority: b.Priority,
		Critical: b.Critical,
	}
}
