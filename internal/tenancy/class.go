package tenancy

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// AllowedIsolation is the network isolation modes a class lets tenants choose: its allowed
// list, or, when that is empty, only its default (an empty allow-list allows nothing more).
func AllowedIsolation(c *platformv1alpha1.TenantClass) []platformv1alpha1.NetworkIsolation {
	if len(c.Spec.NetworkIsolation.Allowed) > 0 {
		return c.Spec.NetworkIsolation.Allowed
	}
	return []platformv1alpha1.NetworkIsolation{firstNonEmpty(c.Spec.NetworkIsolation.Default, platformv1alpha1.NetworkIsolationTeam)}
}

// CheckClass lists what the tenant, with its class's defaults filled in, has beyond what the
// class allows. Admission refuses what no approval can move and admits the rest for a platform
// admin's approval (SplitApprovable); the controller caps a tenant that waits, and reports a
// class tightened under a tenant (WithinClass=False).
func CheckClass(t *platformv1alpha1.TenantNamespace, c *platformv1alpha1.TenantClass) field.ErrorList {
	spec := field.NewPath("spec")
	eff := Effective(t, c)
	cs := c.Spec
	var errs field.ErrorList

	for _, name := range SortedNames(eff.Quota) {
		q := eff.Quota[name]
		max, capped := cs.Quota.Max[name]
		if !capped || q.Cmp(max) <= 0 {
			continue
		}
		from := ""
		if _, named := tenantQuota(t)[name]; !named {
			from = " (the class default)"
		}
		errs = append(errs, field.Invalid(spec.Child("quota", "hard").Key(string(name)), q.String(),
			fmt.Sprintf("exceeds the maximum of class %s: %s%s", c.Name, max.String(), from)))
	}
	if t.Spec.Limits != nil {
		var classMax, classMin corev1.ResourceList
		if cs.Limits != nil {
			classMax, classMin = cs.Limits.Max, cs.Limits.Min
		}
		for _, name := range SortedNames(t.Spec.Limits.Max) {
			q := t.Spec.Limits.Max[name]
			if max, ok := classMax[name]; ok && q.Cmp(max) > 0 {
				errs = append(errs, field.Invalid(spec.Child("limits", "max").Key(string(name)), q.String(),
					fmt.Sprintf("exceeds the container maximum of class %s: %s", c.Name, max.String())))
			}
		}
		for _, name := range SortedNames(t.Spec.Limits.Min) {
			q := t.Spec.Limits.Min[name]
			if min, ok := classMin[name]; ok && q.Cmp(min) < 0 {
				errs = append(errs, field.Invalid(spec.Child("limits", "min").Key(string(name)), q.String(),
					fmt.Sprintf("is below the container minimum of class %s: %s", c.Name, min.String())))
			}
		}
	}
	if min := cs.PodSecurity.Minimum; min != "" && PodSecurityRank(eff.PodSecurity) < PodSecurityRank(min) {
		errs = append(errs, field.Invalid(spec.Child("podSecurity"), eff.PodSecurity,
			fmt.Sprintf("class %s requires at least %s (privileged < baseline < restricted)", c.Name, min)))
	}
	if allowed := AllowedIsolation(c); !slices.Contains(allowed, eff.NetworkIsolation) {
		errs = append(errs, field.NotSupported(spec.Child("networkIsolation"), eff.NetworkIsolation, toStrings(allowed)))
	}
	for i, b := range t.Spec.RoleBindings {
		if b.ClusterRole == ClusterAdmin && !slices.Contains(cs.AllowedClusterRoles, b.ClusterRole) {
			// Not for approval: the operator is never granted to bind it unless a class lists it.
			errs = append(errs, field.Forbidden(spec.Child("roleBindings").Index(i).Child("clusterRole"),
				fmt.Sprintf("cluster-admin is never bound in a tenant namespace unless class %s lists it in allowedClusterRoles (it allows %v; owners always get admin)", c.Name, cs.AllowedClusterRoles)))
			continue
		}
		if !slices.Contains(cs.AllowedClusterRoles, b.ClusterRole) {
			errs = append(errs, field.Invalid(spec.Child("roleBindings").Index(i).Child("clusterRole"), b.ClusterRole,
				fmt.Sprintf("class %s allows binding only %v (owners always get admin)", c.Name, cs.AllowedClusterRoles)))
		}
	}
	errs = append(errs, checkSubjects(t, c)...)
	errs = append(errs, prefixed(spec.Child("labels"), t.Spec.Labels, cs.AllowedLabelPrefixes, c.Name)...)
	errs = append(errs, prefixed(spec.Child("annotations"), t.Spec.Annotations, cs.AllowedAnnotationPrefixes, c.Name)...)
	return errs
}

// ClusterAdmin is the ClusterRole that holds every right of the cluster.
const ClusterAdmin = "cluster-admin"

// prefixed refuses keys that start with none of the allowed prefixes (none allowed when the
// list is empty).
func prefixed(path *field.Path, m map[string]string, allowed []string, class string) field.ErrorList {
	var errs field.ErrorList
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.ContainsFunc(allowed, func(p string) bool { return strings.HasPrefix(k, p) }) {
			errs = append(errs, field.Forbidden(path.Key(k), fmt.Sprintf("class %s allows only the prefixes %v", class, allowed)))
		}
	}
	return errs
}

func toStrings[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}
