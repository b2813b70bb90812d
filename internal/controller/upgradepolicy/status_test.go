package upgradepolicy

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestSummarize(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: "m"}
	}
	gatesOK := cond(platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionTrue, platformv1alpha1.ReasonGatesEvaluated)
	cases := []struct {
		name        string
		conditions  []metav1.Condition
		wantReady   bool
		wantStalled bool
		wantReason  string
	}{
		{"gates read, no provider", []metav1.Condition{gatesOK, cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionTrue, platformv1alpha1.ReasonProviderNotConfigured)}, true, false, "Evaluated"},
		{"gates read, GKE synced", []metav1.Condition{gatesOK, cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionTrue, platformv1alpha1.ReasonProviderSynced)}, true, false, "Evaluated"},
		{"GKE failing: retried, not Ready", []metav1.Condition{gatesOK, cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionFalse, platformv1alpha1.ReasonSyncFailed)}, false, false, platformv1alpha1.ReasonSyncFailed},
		{"a policy GKE would refuse: stalled", []metav1.Condition{gatesOK, cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionFalse, platformv1alpha1.ReasonProviderInvalid)}, false, true, platformv1alpha1.ReasonProviderInvalid},
		{"a gate that cannot be read", []metav1.Condition{cond(platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionFalse, platformv1alpha1.ReasonGateUnavailable), cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionTrue, platformv1alpha1.ReasonProviderSynced)}, false, false, platformv1alpha1.ReasonGateUnavailable},
		{"a schedule that cannot be read: stalled", []metav1.Condition{cond(platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionFalse, ReasonInvalidSchedule), cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionFalse, ReasonInvalidSchedule)}, false, true, ReasonInvalidSchedule},
		{"not evaluated yet", nil, false, false, "Pending"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p := &platformv1alpha1.ClusterUpgradePolicy{Status: platformv1alpha1.ClusterUpgradePolicyStatus{Conditions: tt.conditions}}
			o := summarize(p)
			if o.Ready != tt.wantReady || o.Stalled != tt.wantStalled || o.Reason != tt.wantReason {
				t.Errorf("outcome %+v, want ready %v, stalled %v, reason %s", o, tt.wantReady, tt.wantStalled, tt.wantReason)
			}
		})
	}
}
