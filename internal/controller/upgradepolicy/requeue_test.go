package upgradepolicy

import (
	"testing"
	"time"
	_ "time/tzdata"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/schedule"
)

// TestNextEvaluationIncludesOffsetChanges: with a GKE provider, a zone's next UTC offset change
// is an evaluation (GKE must be told the window's new UTC time), found with time's ZoneBounds.
func TestNextEvaluationIncludesOffsetChanges(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for zone, want := range map[string]string{
		"Europe/Berlin":       "2027-03-28T01:00:00Z", // 02:00 CET -> 03:00 CEST
		"America/New_York":    "2027-03-14T07:00:00Z",
		"Australia/Lord_Howe": "2027-04-03T15:00:00Z", // 02:00 +11 -> 01:30 +10:30
		"Asia/Tokyo":          "",                     // no DST: nothing to evaluate for it
	} {
		p := &platformv1alpha1.ClusterUpgradePolicy{Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "w", TimeZone: platformv1alpha1.TimeZone(zone)}},
			Provider:           &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "p", Location: "l", Cluster: "c"}},
		}}
		got := (&Reconciler{}).nextEvaluation(p, Answer{}, nil, time.Time{}, now)
		if (want == "" && !got.IsZero()) || (want != "" && got.UTC().Format(time.RFC3339) != want) {
			t.Errorf("%s: next evaluation %v, want %q", zone, got, want)
		}
	}
}

// TestNextEvaluationRenewsTheGateHold: while a gate holds GKE back, the policy is evaluated
// again a day before the hold ends, even when no window or exclusion edge is near.
func TestNextEvaluationRenewsTheGateHold(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := &platformv1alpha1.ClusterUpgradePolicy{Spec: platformv1alpha1.ClusterUpgradePolicySpec{
		Suspend:            true,
		MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "w", TimeZone: "UTC"}},
		Provider:           &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "p", Location: "l", Cluster: "c"}},
	}}
	hold := gateHold(p, nil, now)
	if want := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC); !hold.Until.Equal(want) {
		t.Fatalf("hold until %v, want the end of the next UTC day %v", hold.Until, want)
	}
	got := (&Reconciler{}).nextEvaluation(p, Answer{}, hold, time.Time{}, now)
	if want := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next evaluation %v, want %v: a day before the hold lapses", got, want)
	}
	if got := (&Reconciler{}).nextEvaluation(p, Answer{}, nil, time.Time{}, now); !got.IsZero() {
		t.Errorf("without a hold: next evaluation %v, want none", got)
	}
}

func TestRequeueAtTheNextBoundaryNotAPoll(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := &platformv1alpha1.ClusterUpgradePolicy{Spec: platformv1alpha1.ClusterUpgradePolicySpec{
		MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "w", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday"}, Start: "05:00", Duration: "4h", TimeZone: "UTC"}},
	}}
	r := &Reconciler{GatePoll: 10 * time.Minute}
	next := r.nextEvaluation(p, Answer{Answer: schedule.Answer{NextChange: time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)}}, nil, time.Time{}, now)
	if got, want := r.requeueAfter(p, next, now), 17*time.Hour+time.Second; got != want {
		t.Errorf("requeue after %s, want %s (a second past the window's start)", got, want)
	}
	p.Spec.Gates = &platformv1alpha1.Gates{Monitors: []platformv1alpha1.MonitorGate{{Tags: []string{"x:y"}}}}
	if got := r.requeueAfter(p, next, now); got != 10*time.Minute {
		t.Errorf("with a monitor gate: requeue after %s, want the gate poll", got)
	}
}
