package upgradepolicy

import (
	"fmt"
	"strings"
	"time"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/schedule"
)

// Answer is the policy's answer at an instant.
type Answer struct {
	schedule.Answer
	// Message explains the answer to a person.
	Message string
}

// Decide answers whether the cluster may be upgraded at now. UpgradeAllowed means every kind of
// upgrade may start, minor ones included; when only patches may, the answer is no and the
// message says patches pass. Precedence of reasons: Suspended, OutsideWindow, Excluded,
// ErrorBudgetLow, MonitorAlerting, UpstreamBudgetLow, UpstreamSoaking.
func Decide(suspend bool, windows []schedule.Window, exclusions []schedule.Exclusion, blockers []platformv1alpha1.GateBlocker, now time.Time) Answer {
	a := Answer{Answer: schedule.Evaluate(windows, exclusions, now, schedule.MinorUpgrade)}
	switch {
	case suspend:
		a.Allowed, a.Reason = false, platformv1alpha1.ReasonSuspended
		a.Message = "upgrades are suspended (spec.suspend)"
	case a.Reason == schedule.ReasonOutsideWindow:
		a.Reason = platformv1alpha1.ReasonOutsideWindow
		a.Message = "outside every maintenance window"
		if a.Next != nil {
			a.Message += fmt.Sprintf("; the next (%s) opens at %s", strings.Join(a.Next.Windows, ", "), a.Next.Start.UTC().Format(time.RFC3339))
		}
	case a.Reason == schedule.ReasonExcluded:
		a.Reason = platformv1alpha1.ReasonExcluded
		var names []string
		for _, e := range a.Active {
			names = append(names, fmt.Sprintf("%s (%s until %s)", e.Name, e.Scope, e.End.UTC().Format(time.RFC3339)))
		}
		a.Message = "held back by " + strings.Join(names, ", ")
		if patch := schedule.Evaluate(windows, exclusions, now, schedule.ControlPlanePatch); patch.Allowed {
			a.Message += "; control plane patches may still start"
		}
	case len(blockers) > 0:
		a.Allowed = false
		a.Reason = blockerReason(blockers[0])
		var parts []string
		for _, b := range blockers {
			if reasonRank[blockerReason(b)] < reasonRank[a.Reason] {
				a.Reason = blockerReason(b)
			}
			name := b.Name
			if b.Namespace != "" {
				name = b.Namespace + "/" + b.Name
			}
			parts = append(parts, fmt.Sprintf("%s %s: %s", b.Kind, name, b.Message))
		}
		a.Message = "held back by gates: " + strings.Join(parts, "; ")
	default:
		a.Reason = platformv1alpha1.ReasonInsideWindow
		a.Message = fmt.Sprintf("inside maintenance window %s until %s", strings.Join(a.Current.Windows, ", "), a.Current.End.UTC().Format(time.RFC3339))
	}
	return a
}

// reasonRank orders the blockers' reasons: this cluster's own gates first, then its upstreams'.
var reasonRank = map[string]int{
	platformv1alpha1.ReasonErrorBudgetLow:    0,
	platformv1alpha1.ReasonMonitorAlerting:   1,
	platformv1alpha1.ReasonUpstreamBudgetLow: 2,
	platformv1alpha1.ReasonUpstreamSoaking:   3,
}

// blockerReason is the UpgradeAllowed reason a blocker gives.
func blockerReason(b platformv1alpha1.GateBlocker) string {
	switch b.Kind {
	case "ServiceSLO":
		return platformv1alpha1.ReasonErrorBudgetLow
	case "Monitor":
		return platformv1alpha1.ReasonMonitorAlerting
	}
	return b.Reason
}
