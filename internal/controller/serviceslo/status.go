package serviceslo

import (
	"errors"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// summarize computes Ready, Reconciling and Stalled from Synced and the outcome of the
// reconcile, and stamps observedGeneration on success. Reconciling and Stalled are present only
// while True (kstatus).
func summarize(s *platformv1alpha1.ServiceSLO, reconcileErr error) {
	conds := &s.Status.Conditions
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: s.Generation})
	}
	synced := meta.FindStatusCondition(*conds, platformv1alpha1.ConditionSynced)
	if synced == nil {
		synced = &metav1.Condition{Status: metav1.ConditionUnknown, Reason: "Pending", Message: "not synced yet"}
	}
	ok := synced.Status == metav1.ConditionTrue && reconcileErr == nil
	if ok {
		set(platformv1alpha1.ConditionReady, metav1.ConditionTrue, synced.Reason, synced.Message)
	} else {
		set(platformv1alpha1.ConditionReady, metav1.ConditionFalse, synced.Reason, synced.Message)
	}
	// Waiting for credentials or in the wrong namespace needs someone to act: Stalled.
	stalled := errors.Is(reconcileErr, reconcile.TerminalError(nil)) || synced.Reason == ReasonNotConfigured
	switch {
	case ok:
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionStalled)
		s.Status.ObservedGeneration = s.Generation
	case stalled:
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionReconciling)
		set(platformv1alpha1.ConditionStalled, metav1.ConditionTrue, synced.Reason, synced.Message)
	default:
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionStalled)
		set(platformv1alpha1.ConditionReconciling, metav1.ConditionTrue, synced.Reason, synced.Message)
	}
}
