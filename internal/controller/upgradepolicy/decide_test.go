package upgradepolicy

import (
	"strings"
	"testing"
	"time"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/schedule"
)

func TestDecide(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	window := []schedule.Window{{Name: "tue", Recur: schedule.Recurrence{Days: []schedule.DaySpec{{Day: time.Tuesday}}}, Hour: 5, Duration: 4 * time.Hour, Location: time.UTC}}
	inside, outside := at("2026-12-01T06:00:00Z"), at("2026-11-30T06:00:00Z")
	minorFreeze := []schedule.Exclusion{{Name: "year-end", Start: at("2026-11-30T00:00:00Z"), End: at("2027-01-04T00:00:00Z"), Scope: schedule.NoMinorUpgrades}}
	lowBudget := []platformv1alpha1.GateBlocker{{Kind: "ServiceSLO", Namespace: "checkout", Name: "availability", Message: "error budget 3.20% (30d) is under 10%"}}
	alerting := []platformv1alpha1.GateBlocker{{Kind: "Monitor", Name: "db latency", ID: 7, Message: "monitor 7 is in Alert"}}

	cases := []struct {
		name       string
		suspend    bool
		exclusions []schedule.Exclusion
		blockers   []platformv1alpha1.GateBlocker
		now        time.Time
		allowed    bool
		reason     string
		says       string
	}{
		{name: "inside a window", now: inside, allowed: true, reason: platformv1alpha1.ReasonInsideWindow, says: "inside maintenance window tue until 2026-12-01T09:00:00Z"},
		{name: "outside every window", now: outside, reason: platformv1alpha1.ReasonOutsideWindow, says: "the next (tue) opens at 2026-12-01T05:00:00Z"},
		{name: "suspended beats everything", suspend: true, now: inside, reason: platformv1alpha1.ReasonSuspended, says: "suspended"},
		{name: "a minor freeze holds back, patches pass", exclusions: minorFreeze, now: inside, reason: platformv1alpha1.ReasonExcluded, says: "control plane patches may still start"},
		{name: "a low error budget", blockers: lowBudget, now: inside, reason: platformv1alpha1.ReasonErrorBudgetLow, says: "ServiceSLO checkout/availability: error budget 3.20%"},
		{name: "an alerting monitor", blockers: alerting, now: inside, reason: platformv1alpha1.ReasonMonitorAlerting, says: "Monitor db latency: monitor 7 is in Alert"},
		{name: "outside a window, gates do not matter yet", blockers: lowBudget, now: outside, reason: platformv1alpha1.ReasonOutsideWindow},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			a := Decide(tt.suspend, window, tt.exclusions, tt.blockers, tt.now)
			if a.Allowed != tt.allowed || a.Reason != tt.reason {
				t.Errorf("allowed=%t reason=%s, want %t %s (%s)", a.Allowed, a.Reason, tt.allowed, tt.reason, a.Message)
			}
			if !strings.Contains(a.Message, tt.says) {
				t.Errorf("message %q does not say %q", a.Message, tt.says)
			}
		})
	}
}
