package tenantnamespace

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Reasons of the WithinClass condition.
const (
	ReasonWithinClass    = "WithinClass"
	ReasonClassTightened = "ClassTightened"
)

// reportClassConflicts sets WithinClass. Admission keeps new specs within the class; this
// catches a class tightened afterwards. Nothing is taken away: the tenant keeps its quota, level
// and bindings, and the condition says what no longer fits so its owners can adjust.
func reportClassConflicts(s *scope) {
	conflicts := classConflicts(s.tenant, s.class, s)
	if len(conflicts) == 0 {
		s.setCondition(platformv1alpha1.ConditionWithinClass, metav1.ConditionTrue, ReasonWithinClass, "the tenant is within class "+s.class.Name)
		return
	}
	s.setCondition(platformv1alpha1.ConditionWithinClass, metav1.ConditionFalse, ReasonClassTightened,
		fmt.Sprintf("class %s no longer allows: %s; the tenant keeps what it has until its spec is changed", s.class.Name, strings.Join(conflicts, "; ")))
}

// classConflicts lists what the tenant has that its class no longer allows.
func classConflicts(t *platformv1alpha1.TenantNamespace, c *platformv1alpha1.TenantClass, s *scope) []string {
	var out []string
	names := make([]string, 0, len(s.quota))
	for name := range s.quota {
		names = append(names, string(name))
	}
	sort.Strings(names)
	for _, name := range names {
		q := s.quota[corev1.ResourceName(name)]
		if max, ok := c.Spec.Quota.Max[corev1.ResourceName(name)]; ok && q.Cmp(max) > 0 {
			out = append(out, fmt.Sprintf("quota %s %s is above the maximum %s", name, q.String(), max.String()))
		}
	}
	if min := c.Spec.PodSecurity.Minimum; min != "" && levelRank(s.podSecurity) < levelRank(min) {
		out = append(out, fmt.Sprintf("Pod Security %s is below the minimum %s", s.podSecurity, min))
	}
	if allowed := c.Spec.NetworkIsolation.Allowed; len(allowed) > 0 && !slices.Contains(allowed, s.networkIsolation) {
		out = append(out, fmt.Sprintf("network isolation %s is not among %v", s.networkIsolation, allowed))
	}
	for _, b := range t.Spec.RoleBindings {
		if !slices.Contains(c.Spec.AllowedClusterRoles, b.ClusterRole) {
			out = append(out, fmt.Sprintf("ClusterRole %s is not bindable", b.ClusterRole))
		}
	}
	return out
}

// levelRank orders Pod Security levels: privileged < baseline < restricted.
func levelRank(l platformv1alpha1.PodSecurityLevel) int {
	return slices.Index([]platformv1alpha1.PodSecurityLevel{platformv1alpha1.PodSecurityPrivileged, platformv1alpha1.PodSecurityBaseline, platformv1alpha1.PodSecurityRestricted}, l)
}
