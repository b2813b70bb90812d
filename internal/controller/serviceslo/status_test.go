package serviceslo

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestSummarizeBudget(t *testing.T) {
	cases := []struct {
		name                          string
		budgets                       []platformv1alpha1.ErrorBudget
		wantBudget, wantState, wantOb string
	}{
		{"before Datadog answers", nil, "unknown", "unknown", "99.9% over 30d, 99% over 7d"},
		{"the lowest of two, and the worst state", []platformv1alpha1.ErrorBudget{
			{Timeframe: "30d", Remaining: "62.50", State: "ok"}, {Timeframe: "7d", Remaining: "-3.10", State: "breached"},
		}, "-3.10% (7d)", "breached", "99.9% over 30d, 99% over 7d"},
		{"no data yet for one", []platformv1alpha1.ErrorBudget{
			{Timeframe: "30d", Remaining: "80.00", State: "ok"}, {Timeframe: "7d", State: "no_data"},
		}, "80.00% (30d)", "no_data", "99.9% over 30d, 99% over 7d"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			s := &platformv1alpha1.ServiceSLO{Spec: platformv1alpha1.ServiceSLOSpec{Objectives: []platformv1alpha1.Objective{
				{Timeframe: "30d", Target: "99.9"}, {Timeframe: "7d", Target: "99"}}}}
			s.Status.ErrorBudget = tt.budgets
			summarizeBudget(s)
			if s.Status.Budget != tt.wantBudget || s.Status.BudgetState != tt.wantState || s.Status.Objectives != tt.wantOb {
				t.Errorf("budget %q, state %q, objectives %q", s.Status.Budget, s.Status.BudgetState, s.Status.Objectives)
			}
			if s.Status.ErrorBudget == nil {
				t.Error("the error budget list is absent; it must be present, empty if need be")
			}
		})
	}
}

// TestReadyTellsWhyAReconcileFailedAfterASync: Synced stays True from an earlier sync (Datadog
// still holds the objects), but a reconcile that failed for another reason than Datadog makes
// Ready False with that reason and message, not Synced's success.
func TestReadyTellsWhyAReconcileFailedAfterASync(t *testing.T) {
	s := &platformv1alpha1.ServiceSLO{}
	setSynced(s, metav1.ConditionTrue, ReasonSynced, "SLO abc and 2 burn-rate monitors are in Datadog")
	summarize(s, errors.New("reading Team payments for its notification handles: connection refused"))
	ready := meta.FindStatusCondition(s.Status.Conditions, platformv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != ReasonReconcileError || !strings.Contains(ready.Message, "reading Team payments") {
		t.Fatalf("Ready %+v", ready)
	}
	summarize(s, nil)
	if ready := meta.FindStatusCondition(s.Status.Conditions, platformv1alpha1.ConditionReady); ready.Status != metav1.ConditionTrue || ready.Reason != ReasonSynced {
		t.Fatalf("after a good reconcile, Ready %+v", ready)
	}
}
