package tenantnamespace

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Reasons of a deletion in progress.
const (
	ReasonDeleting = "DeletingNamespace"
	ReasonReleased = "NamespaceReleased"
)

// reconcileDelete handles a deleted TenantNamespace. Retain removes the operator's children,
// keeps the namespace and everything else in it, and marks it released; Delete deletes the
// namespace and waits until it is gone. Only a namespace that carries this tenant's label is
// ever touched. The finalizer goes last.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	t := s.tenant
	if !controllerutil.ContainsFinalizer(t, Finalizer) {
		return ctrl.Result{}, nil
	}
	var ns corev1.Namespace
	err := r.Client.Get(ctx, client.ObjectKey{Name: t.Name}, &ns)
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	ours := err == nil && ns.Labels[platformv1alpha1.LabelTenant] == t.Name

	if ours && t.Spec.DeletionPolicy == platformv1alpha1.DeletionPolicyDelete {
		if ns.DeletionTimestamp.IsZero() {
			if err := r.Client.Delete(ctx, &ns); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("deleting namespace %s: %w", ns.Name, err)
			}
			r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, ReasonDeleting, "Delete", "Deleting namespace %s (deletionPolicy Delete)", ns.Name)
		}
		s.setCondition(platformv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, ReasonDeleting,
			fmt.Sprintf("namespace %s is being deleted", ns.Name))
		// The namespace watch also brings the tenant back once the namespace is gone.
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}

	if ours {
		opts := []client.DeleteAllOfOption{client.InNamespace(ns.Name), client.MatchingLabels(childLabels(t))}
		for _, kind := range []client.Object{&rbacv1.RoleBinding{}, &corev1.ResourceQuota{}, &corev1.LimitRange{}, &networkingv1.NetworkPolicy{}} {
			if err := r.Client.DeleteAllOf(ctx, kind, opts...); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("removing %T from the released namespace: %w", kind, err)
			}
		}
		if err := r.Client.Apply(ctx, releasedNamespace(&ns, t), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return ctrl.Result{}, fmt.Errorf("marking namespace %s released: %w", ns.Name, err)
		}
		r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, ReasonReleased, "Release", "Released namespace %s; its contents are kept", ns.Name)
	}

	patch := client.MergeFrom(t.DeepCopy())
	controllerutil.RemoveFinalizer(t, Finalizer)
	if err := r.Client.Patch(ctx, t, patch); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}
