package tenancy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Names of the tenant's children that say what it holds.
const (
	// LimitRangeName is the tenant's LimitRange.
	LimitRangeName = "selfserve-limits"
	// OwnersRoleBinding binds the tenant's owners to the admin ClusterRole.
	OwnersRoleBinding = "selfserve-owners"
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

// SplitHeld separates, of what goes beyond the class and may be approved (SplitApprovable),
// what waits for a platform admin (unheld) from what the tenant holds already (held).
func SplitHeld(approvable field.ErrorList, h Holding) (unheld, held field.ErrorList) {
	for _, e := range approvable {
		if holds(e, h) {
			held = append(held, e)
		} else {
			unheld = append(unheld, e)
		}
	}
	return unheld, held
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

// ReadHolding reads what the tenant's namespace holds now from r, which must hold the children's
// specs (the apiserver: the operator's cache keeps them as digests). Only objects this very
// tenant owns count. It is read only for a tenant beyond its class without an approval, so the
// reads cost nothing in the common case.
func ReadHolding(ctx context.Context, r client.Reader, t *platformv1alpha1.TenantNamespace) (Holding, error) {
	var h Holding
	var quota corev1.ResourceQuota
	if ok, err := readOwned(ctx, r, t, QuotaName, &quota); err != nil {
		return h, err
	} else if ok {
		h.Quota = quota.Spec.Hard
	}
	var limits corev1.LimitRange
	if ok, err := readOwned(ctx, r, t, LimitRangeName, &limits); err != nil {
		return h, err
	} else if ok {
		for _, item := range limits.Spec.Limits {
			if item.Type == corev1.LimitTypeContainer {
				h.LimitsMax, h.LimitsMin = item.Max, item.Min
			}
		}
	}
	var bindings rbacv1.RoleBindingList
	if err := r.List(ctx, &bindings, client.InNamespace(t.Name), client.MatchingLabels{
		platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue, platformv1alpha1.LabelTenant: t.Name,
	}); err != nil {
		return h, fmt.Errorf("reading the RoleBindings of namespace %s: %w", t.Name, err)
	}
	for i := range bindings.Items {
		b := &bindings.Items[i]
		if OwnedBy(b, t) && b.Name != OwnersRoleBinding && b.RoleRef.Kind == "ClusterRole" {
			h.ClusterRoles = append(h.ClusterRoles, b.RoleRef.Name)
		}
	}
	return h, nil
}

// readOwned reads one of the tenant's children; false when it is missing or not this tenant's.
func readOwned(ctx context.Context, r client.Reader, t *platformv1alpha1.TenantNamespace, name string, obj client.Object) (bool, error) {
	err := r.Get(ctx, client.ObjectKey{Namespace: t.Name, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s/%s: %w", t.Name, name, err)
	}
	return OwnedBy(obj, t), nil
}

// OwnedBy reports whether the operator made the object for this tenant: its label and its
// controller reference name the tenant, by UID.
func OwnedBy(obj client.Object, t *platformv1alpha1.TenantNamespace) bool {
	if obj.GetLabels()[platformv1alpha1.LabelManagedBy] != platformv1alpha1.ManagedByValue || obj.GetLabels()[platformv1alpha1.LabelTenant] != t.Name {
		return false
	}
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == t.UID
}
