package serviceslo

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/conditions"
)

// worse orders Datadog's states of an objective, the worst last.
var worse = map[string]int{"ok": 1, "no_data": 2, "warning": 3, "breached": 4}

// summarizeBudget writes the one-line summaries kubectl's columns and kube-state-metrics read:
// the objectives, the lowest budget left, the worst state ("unknown" until Datadog answered). The
// error budget list is present, empty, before Datadog answers, so a metric that reads it finds
// a list to read.
func summarizeBudget(s *platformv1alpha1.ServiceSLO) {
	var objectives []string
	for _, o := range s.Spec.Objectives {
		objectives = append(objectives, fmt.Sprintf("%s%% over %s", o.Target, o.Timeframe))
	}
	s.Status.Objectives = strings.Join(objectives, ", ")
	if s.Status.ErrorBudget == nil {
		s.Status.ErrorBudget = []platformv1alpha1.ErrorBudget{}
	}
	s.Status.Budget, s.Status.BudgetState = "unknown", "unknown"
	lowest := math.Inf(1)
	for _, b := range s.Status.ErrorBudget {
		if r, err := strconv.ParseFloat(b.Remaining, 64); err == nil && r < lowest {
			lowest = r
			s.Status.Budget = fmt.Sprintf("%s%% (%s)", b.Remaining, b.Timeframe)
		}
		if worse[b.State] > worse[s.Status.BudgetState] {
			s.Status.BudgetState = b.State
		}
	}
}

// summarize computes Ready, Reconciling and Stalled from Synced and the outcome of the
// reconcile, and stamps observedGeneration once it reaches a verdict (conditions.Summarize).
func summarize(s *platformv1alpha1.ServiceSLO, reconcileErr error) {
	summarizeBudget(s)
	synced := meta.FindStatusCondition(s.Status.Conditions, platformv1alpha1.ConditionSynced)
	if synced == nil {
		synced = &metav1.Condition{Status: metav1.ConditionUnknown, Reason: "Pending", Message: "not synced yet"}
	}
	o := conditions.Outcome{
		Ready: synced.Status == metav1.ConditionTrue && reconcileErr == nil,
		// Waiting for credentials or in the wrong namespace needs someone to act.
		Stalled: errors.Is(reconcileErr, reconcile.TerminalError(nil)) || synced.Reason == ReasonNotConfigured,
		Reason:  synced.Reason, Message: synced.Message,
	}
	if reconcileErr != nil && synced.Status == metav1.ConditionTrue {
		// Synced still says what Datadog holds from an earlier sync; Ready says why this one failed.
		o.Reason, o.Message = ReasonReconcileError, reconcileErr.Error()
	}
	if conditions.Summarize(&s.Status.Conditions, s.Generation, o) {
		s.Status.ObservedGeneration = s.Generation
	}
}
