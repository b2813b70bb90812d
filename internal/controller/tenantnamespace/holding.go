package tenantnamespace

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// readHolding reads what the tenant's namespace holds now (tenancy.Holding) from the apiserver:
// the cache keeps the children as digests, without their specs. Only objects this very tenant
// owns count. It is read only for a tenant beyond its class without an approval, so the reads
// cost nothing in the common case.
func (r *Reconciler) readHolding(ctx context.Context, t *platformv1alpha1.TenantNamespace) (tenancy.Holding, error) {
	var h tenancy.Holding
	var quota corev1.ResourceQuota
	if ok, err := r.readOwned(ctx, t, QuotaName, &quota); err != nil {
		return h, err
	} else if ok {
		h.Quota = quota.Spec.Hard
	}
	var limits corev1.LimitRange
	if ok, err := r.readOwned(ctx, t, LimitRangeName, &limits); err != nil {
		return h, err
	} else if ok {
		for _, item := range limits.Spec.Limits {
			if item.Type == corev1.LimitTypeContainer {
				h.LimitsMax, h.LimitsMin = item.Max, item.Min
			}
		}
	}
	var bindings rbacv1.RoleBindingList
	if err := r.APIReader.List(ctx, &bindings, client.InNamespace(t.Name), client.MatchingLabels(childLabels(t))); err != nil {
		return h, fmt.Errorf("reading the RoleBindings of namespace %s: %w", t.Name, err)
	}
	for i := range bindings.Items {
		b := &bindings.Items[i]
		if ownedBy(b, t) && b.Name != OwnersRoleBinding && b.RoleRef.Kind == "ClusterRole" {
			h.ClusterRoles = append(h.ClusterRoles, b.RoleRef.Name)
		}
	}
	return h, nil
}

// readOwned reads one of the tenant's children from the apiserver; false when it is missing or
// not this tenant's.
func (r *Reconciler) readOwned(ctx context.Context, t *platformv1alpha1.TenantNamespace, name string, obj client.Object) (bool, error) {
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: t.Name, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s/%s: %w", t.Name, name, err)
	}
	return ownedBy(obj, t), nil
}

// ownedBy reports whether the operator made the object for this tenant: its label and its
// controller reference name the tenant, by UID.
func ownedBy(obj client.Object, t *platformv1alpha1.TenantNamespace) bool {
	if obj.GetLabels()[platformv1alpha1.LabelManagedBy] != platformv1alpha1.ManagedByValue || obj.GetLabels()[platformv1alpha1.LabelTenant] != t.Name {
		return false
	}
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == t.UID
}
