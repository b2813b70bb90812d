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
	a, ok := askOf(e)
	if !ok {
		return false
	}
	switch a.list {
	case askClusterRole:
		return slices.Contains(h.ClusterRoles, a.role)
	case askQuota:
		held, ok := h.Quota[a.name]
		return ok && a.value.Cmp(held) <= 0
	case askLimitsMax:
		held, ok := h.LimitsMax[a.name]
		return ok && a.value.Cmp(held) <= 0
	case askLimitsMin:
		held, ok := h.LimitsMin[a.name]
		return ok && a.value.Cmp(held) >= 0
	}
	return false
}

// Kinds of what an approvable error asks for.
const (
	askQuota = iota
	askLimitsMax
	askLimitsMin
	askClusterRole
)

// ask is what one approvable error asks for: a quantity of a resource in the quota or the
// container limits, or a ClusterRole to bind.
type ask struct {
	list  int
	name  corev1.ResourceName
	value resource.Quantity
	role  string
}

// askOf reads what an approvable error (SplitApprovable) asks for; false for any other error.
func askOf(e *field.Error) (ask, bool) {
	value, _ := e.BadValue.(string)
	if strings.HasPrefix(e.Field, "spec.roleBindings[") {
		return ask{list: askClusterRole, role: value}, value != ""
	}
	var a ask
	switch {
	case strings.HasPrefix(e.Field, "spec.quota.hard["):
		a.list = askQuota
	case strings.HasPrefix(e.Field, "spec.limits.max["):
		a.list = askLimitsMax
	case strings.HasPrefix(e.Field, "spec.limits.min["):
		a.list = askLimitsMin
	default:
		return a, false
	}
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return a, false
	}
	_, rest, _ := strings.Cut(e.Field, "[")
	a.name, a.value = corev1.ResourceName(strings.TrimSuffix(rest, "]")), q
	return a, true
}

// GrantsFor records the values of what goes beyond the class (approvable, SplitApprovable of
// the spec whose hash is given) as an approval's grants: what a platform admin approved, by
// value, so that it outlives the spec hash it was approved under.
func GrantsFor(approvable field.ErrorList, hash string) *platformv1alpha1.Grants {
	g := &platformv1alpha1.Grants{SpecHash: hash}
	put := func(list *corev1.ResourceList, a ask) {
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[a.name] = a.value
	}
	for _, e := range approvable {
		a, ok := askOf(e)
		if !ok {
			continue
		}
		switch a.list {
		case askQuota:
			put(&g.Quota, a)
		case askLimitsMax:
			put(&g.LimitsMax, a)
		case askLimitsMin:
			put(&g.LimitsMin, a)
		case askClusterRole:
			if !slices.Contains(g.ClusterRoles, a.role) {
				g.ClusterRoles = append(g.ClusterRoles, a.role)
			}
		}
	}
	slices.Sort(g.ClusterRoles)
	return g
}

// Granted is what the tenant's approval grants, as a Holding; empty without one.
func Granted(t *platformv1alpha1.TenantNamespace) Holding {
	if t.Status.Approval == nil || t.Status.Approval.Grants == nil {
		return Holding{}
	}
	g := t.Status.Approval.Grants
	return Holding{Quota: g.Quota, LimitsMax: g.LimitsMax, LimitsMin: g.LimitsMin, ClusterRoles: g.ClusterRoles}
}

// With is what h and o hold together: the larger quota and limit maximum, the smaller limit
// minimum, every ClusterRole of both.
func (h Holding) With(o Holding) Holding {
	out := Holding{Quota: corev1.ResourceList{}, LimitsMax: corev1.ResourceList{}, LimitsMin: corev1.ResourceList{}}
	widest := func(dst, a, b corev1.ResourceList, wider func(x, y resource.Quantity) resource.Quantity) {
		for name, q := range a {
			dst[name] = q.DeepCopy()
		}
		for name, q := range b {
			if have, ok := dst[name]; ok {
				dst[name] = wider(have, q)
			} else {
				dst[name] = q.DeepCopy()
			}
		}
	}
	widest(out.Quota, h.Quota, o.Quota, AtLeast)
	widest(out.LimitsMax, h.LimitsMax, o.LimitsMax, AtLeast)
	widest(out.LimitsMin, h.LimitsMin, o.LimitsMin, AtMost)
	out.ClusterRoles = slices.Clone(h.ClusterRoles)
	for _, role := range o.ClusterRoles {
		if !slices.Contains(out.ClusterRoles, role) {
			out.ClusterRoles = append(out.ClusterRoles, role)
		}
	}
	return out
}

// Kept splits what goes beyond the class and may be approved (approvable) into what the
// tenant's approval grants (granted), what its namespace already holds (held: read with read,
// only when the grants do not cover it all) and what waits for a platform admin (waiting). The
// Holding is what the tenant keeps while the rest waits: its grants and its namespace together.
// The webhook and the controller decide with it alike.
func Kept(ctx context.Context, t *platformv1alpha1.TenantNamespace, approvable field.ErrorList, read func(context.Context) (Holding, error)) (waiting, granted, held field.ErrorList, kept Holding, err error) {
	kept = Granted(t)
	waiting, granted = SplitHeld(approvable, kept)
	if len(waiting) == 0 {
		return nil, granted, nil, kept, nil
	}
	ns, err := read(ctx)
	if err != nil {
		return nil, nil, nil, kept, err
	}
	kept = kept.With(ns)
	waiting, held = SplitHeld(waiting, kept)
	return waiting, granted, held, kept, nil
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
