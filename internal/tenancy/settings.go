package tenancy

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Settings are what a tenant gets once its class fills what it left out.
type Settings struct {
	// Quota is the ResourceQuota's hard limits: the class maximum for every resource the class
	// caps, under the class default, under the tenant's own, resource by resource. A tenant
	// cannot escape a cap by leaving its resource out.
	Quota corev1.ResourceList
	// Limits is the LimitRange: the class's, under the tenant's, resource by resource; nil when
	// neither sets any.
	Limits *platformv1alpha1.ContainerLimits
	// NetworkIsolation and PodSecurity: the tenant's, else the class default, else Team and
	// baseline.
	NetworkIsolation platformv1alpha1.NetworkIsolation
	PodSecurity      platformv1alpha1.PodSecurityLevel
}

// Effective computes the tenant's settings in its class.
func Effective(t *platformv1alpha1.TenantNamespace, c *platformv1alpha1.TenantClass) Settings {
	return Settings{
		Quota:            overlay(c.Spec.Quota.Max, c.Spec.Quota.Default, tenantQuota(t)),
		Limits:           effectiveLimits(t.Spec.Limits, c.Spec.Limits),
		NetworkIsolation: firstNonEmpty(t.Spec.NetworkIsolation, c.Spec.NetworkIsolation.Default, platformv1alpha1.NetworkIsolationTeam),
		PodSecurity:      firstNonEmpty(t.Spec.PodSecurity, c.Spec.PodSecurity.Default, platformv1alpha1.PodSecurityBaseline),
	}
}

// EffectiveQuota is Effective(t, c).Quota.
func EffectiveQuota(t *platformv1alpha1.TenantNamespace, c *platformv1alpha1.TenantClass) corev1.ResourceList {
	return Effective(t, c).Quota
}

// tenantQuota is the quota the tenant names itself.
func tenantQuota(t *platformv1alpha1.TenantNamespace) corev1.ResourceList {
	if t.Spec.Quota == nil {
		return nil
	}
	return t.Spec.Quota.Hard
}

// effectiveLimits lays the tenant's container limits over the class's, list by list and
// resource by resource.
func effectiveLimits(tenant, class *platformv1alpha1.ContainerLimits) *platformv1alpha1.ContainerLimits {
	if tenant == nil && class == nil {
		return nil
	}
	if tenant == nil {
		tenant = &platformv1alpha1.ContainerLimits{}
	}
	if class == nil {
		class = &platformv1alpha1.ContainerLimits{}
	}
	out := &platformv1alpha1.ContainerLimits{
		DefaultRequest: overlay(class.DefaultRequest, tenant.DefaultRequest),
		Default:        overlay(class.Default, tenant.Default),
		Max:            overlay(class.Max, tenant.Max),
		Min:            overlay(class.Min, tenant.Min),
	}
	if len(out.DefaultRequest)+len(out.Default)+len(out.Max)+len(out.Min) == 0 {
		return nil
	}
	return out
}

// overlay merges resource lists, later ones winning resource by resource; nil when all are
// empty.
func overlay(lists ...corev1.ResourceList) corev1.ResourceList {
	var out corev1.ResourceList
	for _, l := range lists {
		for name, q := range l {
			if out == nil {
				out = corev1.ResourceList{}
			}
			out[name] = q.DeepCopy()
		}
	}
	return out
}

func firstNonEmpty[T ~string](values ...T) T {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// PodSecurityRank orders Pod Security levels: privileged < baseline < restricted.
func PodSecurityRank(l platformv1alpha1.PodSecurityLevel) int {
	return slices.Index([]platformv1alpha1.PodSecurityLevel{platformv1alpha1.PodSecurityPrivileged, platformv1alpha1.PodSecurityBaseline, platformv1alpha1.PodSecurityRestricted}, l)
}

// SortedNames returns a resource list's names in order, so that messages are stable.
func SortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
