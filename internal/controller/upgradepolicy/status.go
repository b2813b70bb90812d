package upgradepolicy

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/conditions"
)

// ReasonInvalidSchedule is the reason of both part conditions when the windows or exclusions
// cannot be read (a zone missing from the embedded database): nothing can be evaluated.
const ReasonInvalidSchedule = "InvalidSchedule"

// partConditions are the conditions Ready summarises, in order. UpgradeAllowed is the policy's
// answer, not a part of its health: a policy that says "not now" is working.
var partConditions = []string{platformv1alpha1.ConditionGatesEvaluated, platformv1alpha1.ConditionProviderSynced}

// summarize computes Ready from the part conditions: Ready when every gate was read and the
// provider holds the policy; Stalled when the policy cannot be sent to the provider as it is
// or the schedule cannot be read (only a spec change, or a new build, helps); otherwise Reconciling (a gate or the provider is retried).
func summarize(p *platformv1alpha1.ClusterUpgradePolicy) conditions.Outcome {
	for _, typ := range partConditions {
		c := meta.FindStatusCondition(p.Status.Conditions, typ)
		if c == nil {
			return conditions.Outcome{Reason: "Pending", Message: typ + " not evaluated yet"}
		}
		if c.Status != metav1.ConditionTrue {
			stalled := c.Reason == platformv1alpha1.ReasonProviderInvalid || c.Reason == ReasonInvalidSchedule
			return conditions.Outcome{Stalled: stalled, Reason: c.Reason, Message: typ + ": " + c.Message}
		}
	}
	return conditions.Outcome{Ready: true, Reason: "Evaluated", Message: "the policy is evaluated and in effect; see UpgradeAllowed"}
}

// setCondition sets one part condition at the policy's generation.
func setCondition(p *platformv1alpha1.ClusterUpgradePolicy, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: p.Generation})
}
