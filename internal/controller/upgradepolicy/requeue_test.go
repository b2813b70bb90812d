package upgradepolicy

import (
	"testing"
	"time"
	_ "time/tzdata"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/schedule"
)

func TestNextOffsetChange(t *testing.T) {
	for zone, want := range map[string]string{
		"Europe/Berlin":       "2027-03-28T01:00:00Z", // 02:00 CET -> 03:00 CEST
		"America/New_York":    "2027-03-14T07:00:00Z",
		"Australia/Lord_Howe": "2027-04-03T15:00:00Z", // 02:00 +11 -> 01:30 +10:30
		"Asia/Tokyo":          "",                     // no DST: no change within a year
	} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		got := nextOffsetChange(loc, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
		if (want == "" && !got.IsZero()) || (want != "" && got.UTC().Format(time.RFC3339) != want) {
			t.Errorf("%s: next offset change %v, want %q", zone, got, want)
		}
	}
}

func TestRequeueAtTheNextBoundaryNotAPoll(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := &platformv1alpha1.ClusterUpgradePolicy{Spec: platformv1alpha1.ClusterUpgradePolicySpec{
		MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "w", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday"}, Start: "05:00", Duration: "4h", TimeZone: "UTC"}},
	}}
	r := &Reconciler{GatePoll: 10 * time.Minute}
	ans := Answer{Answer: schedule.Answer{NextChange: time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)}}
	if got, want := r.requeueAfter(p, ans, now), 17*time.Hour+time.Second; got != want {
		t.Errorf("requeue after %s, want %s (a second past the window's start)", got, want)
	}
	p.Spec.Gates = &platformv1alpha1.Gates{Monitors: []platformv1alpha1.MonitorGate{{Tags: []string{"x:y"}}}}
	if got := r.requeueAfter(p, ans, now); got != 10*time.Minute {
		t.Errorf("with a monitor gate: requeue after %s, want the gate poll", got)
	}
}
