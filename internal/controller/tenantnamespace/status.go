package tenantnamespace

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// summarize computes Ready, Reconciling and Stalled from the part conditions and the outcome
// of the reconcile, and stamps observedGeneration when the reconcile succeeded. Reconciling
// and Stalled are present only while True (kstatus).
func summarize(t *platformv1alpha1.TenantNamespace, reconcileErr error) {
	conds := &t.Status.Conditions
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: t.Generation})
	}

	var blocking *metav1.Condition
	for _, typ := range partConditions {
		c := meta.FindStatusCondition(*conds, typ)
		if c == nil {
			blocking = &metav1.Condition{Type: typ, Status: metav1.ConditionUnknown, Reason: "Pending", Message: typ + " not evaluated yet"}
			break
		}
		if c.Status != metav1.ConditionTrue {
			blocking = c
			break
		}
	}
	stalled := errors.Is(reconcileErr, reconcile.TerminalError(nil)) ||
		(blocking != nil && blocking.Reason == ReasonClassNotFound)

	switch {
	case blocking == nil && reconcileErr == nil:
		set(platformv1alpha1.ConditionReady, metav1.ConditionTrue, ReasonProvisioned,
			fmt.Sprintf("namespace %s is ready for team %s", t.Name, t.Spec.Team))
	case blocking != nil:
		set(platformv1alpha1.ConditionReady, metav1.ConditionFalse, blocking.Reason, blocking.Type+": "+blocking.Message)
	default:
		set(platformv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonApplyFailed, reconcileErr.Error())
	}

	switch {
	case stalled:
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionReconciling)
		set(platformv1alpha1.ConditionStalled, metav1.ConditionTrue, readyReason(t), readyMessage(t))
	case blocking != nil || reconcileErr != nil:
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionStalled)
		set(platformv1alpha1.ConditionReconciling, metav1.ConditionTrue, readyReason(t), readyMessage(t))
	default:
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionStalled)
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionReconciling)
	}
	if reconcileErr == nil && blocking == nil {
		t.Status.ObservedGeneration = t.Generation
	}
}

func readyReason(t *platformv1alpha1.TenantNamespace) string {
	return meta.FindStatusCondition(t.Status.Conditions, platformv1alpha1.ConditionReady).Reason
}

func readyMessage(t *platformv1alpha1.TenantNamespace) string {
	return meta.FindStatusCondition(t.Status.Conditions, platformv1alpha1.ConditionReady).Message
}
