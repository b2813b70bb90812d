package serviceslo

import (
	"errors"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/kstatus"
)

// summarize computes Ready, Reconciling and Stalled from Synced and the outcome of the
// reconcile, and stamps observedGeneration on success.
func summarize(s *platformv1alpha1.ServiceSLO, reconcileErr error) {
	synced := meta.FindStatusCondition(s.Status.Conditions, platformv1alpha1.ConditionSynced)
	if synced == nil {
		synced = &metav1.Condition{Status: metav1.ConditionUnknown, Reason: "Pending", Message: "not synced yet"}
	}
	o := kstatus.Outcome{
		Ready: synced.Status == metav1.ConditionTrue && reconcileErr == nil,
		// Waiting for credentials or in the wrong namespace needs someone to act.
		Stalled: errors.Is(reconcileErr, reconcile.TerminalError(nil)) || synced.Reason == ReasonNotConfigured,
		Reason:  synced.Reason, Message: synced.Message,
	}
	if kstatus.Summarize(&s.Status.Conditions, s.Generation, o) {
		s.Status.ObservedGeneration = s.Generation
	}
}
