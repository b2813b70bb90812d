package tenantnamespace

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// QuotaName is the tenant's ResourceQuota.
const QuotaName = "selfserve-quota"

// reconcileQuota keeps the tenant's ResourceQuota at the hard limits in effect (the tenant's,
// or the class default), removes it when there are none, and copies its usage into status. It
// sets QuotaReady.
func (r *Reconciler) reconcileQuota(ctx context.Context, s *scope) (ctrl.Result, error) {
	var cur corev1.ResourceQuota
	exists, err := r.getChild(ctx, s, QuotaName, &cur)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(s.Quota) == 0 {
		s.setQuotaUsage(nil)
		return ctrl.Result{}, r.notRequested(ctx, s, exists, &cur, platformv1alpha1.ConditionQuotaReady, "neither the tenant nor its class sets a quota")
	}
	desired := corev1ac.ResourceQuota(QuotaName, s.tenant.Name).
		WithLabels(childLabels(s.tenant)).
		WithOwnerReferences(ownerReference(s.tenant)).
		WithSpec(corev1ac.ResourceQuotaSpec().WithHard(s.Quota))
	_, err = applyChild(ctx, r, s, "ResourceQuota", QuotaName, &cur, exists, desired, corev1ac.ExtractResourceQuota)
	if err != nil {
		s.setCondition(platformv1alpha1.ConditionQuotaReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
		return ctrl.Result{}, fmt.Errorf("applying ResourceQuota: %w", err)
	}
	s.setQuotaUsage(&platformv1alpha1.QuotaUsage{Hard: cur.Status.Hard, Used: cur.Status.Used})
	s.setCondition(platformv1alpha1.ConditionQuotaReady, metav1.ConditionTrue, ReasonProvisioned, "ResourceQuota "+QuotaName+" enforces the tenant's limits")
	return ctrl.Result{}, nil
}

// getChild reads a child of the tenant from the cache; exists is false when it is missing.
func (r *Reconciler) getChild(ctx context.Context, s *scope, name string, obj client.Object) (exists bool, err error) {
	err = r.Client.Get(ctx, client.ObjectKey{Namespace: s.tenant.Name, Name: name}, obj)
	if err == nil {
		return true, nil
	}
	return false, client.IgnoreNotFound(err)
}
