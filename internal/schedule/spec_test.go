package schedule

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestFromSpecReadsTheSamplePolicy(t *testing.T) {
	spec := platformv1alpha1.ClusterUpgradePolicySpec{
		MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{
			{Name: "weekday-mornings", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday", "Thursday"}, Start: "05:00", Duration: "4h", TimeZone: "Europe/Berlin"},
			{Name: "first-saturday", RRule: "FREQ=MONTHLY;BYDAY=1SA", Start: "22:00", Duration: "8h", TimeZone: "Europe/Berlin"},
		},
		Exclusions: []platformv1alpha1.Exclusion{{Name: "black-friday",
			Start: metav1.NewTime(utc("2026-11-23T00:00:00Z")), End: metav1.NewTime(utc("2026-12-01T00:00:00Z"))}},
	}
	windows, exclusions, err := FromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	// Thursday 2026-11-26 06:00 Berlin (05:00 UTC): inside a window, but Black Friday week.
	a := Evaluate(windows, exclusions, utc("2026-11-26T05:00:00Z"), ControlPlanePatch)
	if a.Allowed || a.Reason != ReasonExcluded || a.Current == nil || a.Current.Windows[0] != "weekday-mornings" {
		t.Errorf("during Black Friday week: %+v", a)
	}
	if !a.NextChange.Equal(utc("2026-11-26T08:00:00Z")) {
		t.Errorf("next change %s, want the window's end 09:00 Berlin", a.NextChange)
	}
	// The first window after the freeze: Tuesday 1 December 05:00 Berlin (04:00 UTC).
	a = Evaluate(windows, exclusions, utc("2026-11-30T23:30:00Z"), MinorUpgrade)
	if a.Next == nil || !a.Next.Start.Equal(utc("2026-12-01T04:00:00Z")) {
		t.Errorf("next window after the freeze: %+v", a.Next)
	}
	if exclusions[0].Scope != NoUpgrades {
		t.Errorf("an exclusion without a scope holds back %s, want NoUpgrades", exclusions[0].Scope)
	}
}
