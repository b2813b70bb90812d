package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Outcome is what a reconcile concluded.
type Outcome struct {
	// Ready is true when everything the object asks for is in place.
	Ready bool
	// Stalled is true when nothing will change without someone acting (a spec or environment
	// change); otherwise a not-ready object is still Reconciling.
	Stalled bool
	// Reason and Message explain Ready (and Reconciling or Stalled).
	Reason, Message string
}

// Summarize sets Ready, Reconciling and Stalled for the outcome at the object's generation,
// and reports whether observedGeneration may be stamped: when the controller reached a verdict
// on this generation (Ready, or Stalled with its reason), not while it is still working on it.
// kstatus (Flux, Argo CD through it) checks observedGeneration before Stalled: a stalled change
// left at the older generation would read InProgress until a GitOps tool timed out.
func Summarize(conds *[]metav1.Condition, generation int64, o Outcome) (stampObserved bool) {
	set := func(typ string, status metav1.ConditionStatus) {
		meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: o.Reason, Message: o.Message, ObservedGeneration: generation})
	}
	switch {
	case o.Ready:
		set(platformv1alpha1.ConditionReady, metav1.ConditionTrue)
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionStalled)
		return true
	case o.Stalled:
		set(platformv1alpha1.ConditionReady, metav1.ConditionFalse)
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionReconciling)
		set(platformv1alpha1.ConditionStalled, metav1.ConditionTrue)
		return true
	default:
		set(platformv1alpha1.ConditionReady, metav1.ConditionFalse)
		meta.RemoveStatusCondition(conds, platformv1alpha1.ConditionStalled)
		set(platformv1alpha1.ConditionReconciling, metav1.ConditionTrue)
	}
	return false
}
