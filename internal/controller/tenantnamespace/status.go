package tenantnamespace

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/conditions"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// summarize computes Ready, Reconciling and Stalled from the part conditions and the outcome
// of the reconcile, and stamps observedGeneration when the reconcile succeeded.
func summarize(t *platformv1alpha1.TenantNamespace, reconcileErr error) {
	var blocking *metav1.Condition
	for _, typ := range partConditions {
		c := meta.FindStatusCondition(t.Status.Conditions, typ)
		if c == nil {
			blocking = &metav1.Condition{Type: typ, Status: metav1.ConditionUnknown, Reason: "Pending", Message: typ + " not evaluated yet"}
			break
		}
		if c.Status != metav1.ConditionTrue {
			blocking = c
			break
		}
	}
	if c := meta.FindStatusCondition(t.Status.Conditions, platformv1alpha1.ConditionApprovalRequired); blocking == nil && c != nil && c.Status == metav1.ConditionTrue {
		// Running on what the class allows is not what was asked: not Ready until an admin
		// approves, and Stalled meanwhile (a person must act).
		blocking = c
	}
	o := conditions.Outcome{
		Stalled: errors.Is(reconcileErr, reconcile.TerminalError(nil)) || (blocking != nil && tenancy.IsWaitingReason(blocking.Reason)),
	}
	switch {
	case blocking == nil && reconcileErr == nil:
		o.Ready, o.Reason, o.Message = true, ReasonProvisioned, fmt.Sprintf("namespace %s is ready for team %s", t.Name, t.Spec.Team)
	case blocking != nil:
		o.Reason, o.Message = blocking.Reason, blocking.Type+": "+blocking.Message
	default:
		o.Reason, o.Message = ReasonApplyFailed, reconcileErr.Error()
	}
	if conditions.Summarize(&t.Status.Conditions, t.Generation, o) {
		t.Status.ObservedGeneration = t.Generation
	}
}
