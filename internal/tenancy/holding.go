package tenancy

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Holding is what a tenant's namespace holds now, read from the objects the operator applied
// there: its ResourceQuota's hard limits, its LimitRange's container bounds and the
// ClusterRoles its RoleBindings bind. Only the operator and platform admins may change those
// objects (the managed-children guard), so what they hold was granted — within the class, by
// an approval, or before the class was tightened. It is never read from the tenant's status,
// which anyone with rights on tenantnamespaces/status could write.
type Holding struct {
	Quota                corev1.ResourceList
	LimitsMax, LimitsMin corev1.ResourceList
	ClusterRoles         []string
}

// Unheld keeps, of what goes beyond the class and may be approved (SplitApprovable), what the
// tenant does not hold already: only that waits for a platform admin.
func Unheld(approvable field.ErrorList, h Holding) field.ErrorList {
	var out field.ErrorList
	for _, e := range approvable {
		if !holds(e, h) {
			out = append(out, e)
		}
	}
	return out
}

// holds reports whether the namespace already holds what an approvable error asks for.
func holds(e *field.Error, h Holding) bool {
	value, _ := e.BadValue.(string)
	if strings.HasPrefix(e.Field, "spec.roleBindings[") {
		return slices.Contains(h.ClusterRoles, value)
	}
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(e.Field, "[")
	name := corev1.ResourceName(strings.TrimSuffix(rest, "]"))
	switch {
	case strings.HasPrefix(e.Field, "spec.quota.hard["):
		held, ok := h.Quota[name]
		return ok && q.Cmp(held) <= 0
	case strings.HasPrefix(e.Field, "spec.limits.max["):
		held, ok := h.LimitsMax[name]
		return ok && q.Cmp(held) <= 0
	case strings.HasPrefix(e.Field, "spec.limits.min["):
		held, ok := h.LimitsMin[name]
		return ok && q.Cmp(held) >= 0
	}
	return false
}
