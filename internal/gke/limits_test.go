package gke

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestRefusalsNameWhatGKEWouldRefuse(t *testing.T) {
	now := at("2026-12-01T12:00:00Z")
	daily := platformv1alpha1.MaintenanceWindow{Name: "nightly", DaysOfWeek: []platformv1alpha1.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"},
		Start: "02:00", Duration: "4h", TimeZone: "Europe/Berlin"}
	exclusion := func(name, start string, length time.Duration, scope platformv1alpha1.UpgradeScope) platformv1alpha1.Exclusion {
		s := at(start)
		return platformv1alpha1.Exclusion{Name: name, Start: metav1.NewTime(s), End: metav1.NewTime(s.Add(length)), Scope: scope}
	}
	manyExclusions := func(n int) []platformv1alpha1.Exclusion {
		var out []platformv1alpha1.Exclusion
		for i := range n {
			// One hour each, a week apart: short enough to leave the availability rule alone.
			out = append(out, exclusion(fmt.Sprintf("e%02d", i), "2026-12-02T00:00:00Z", 0, platformv1alpha1.ScopeNoUpgrades))
			out[i].Start = metav1.NewTime(at("2026-12-02T10:00:00Z").Add(time.Duration(i) * 7 * 24 * time.Hour))
			out[i].End = metav1.NewTime(out[i].Start.Add(time.Hour))
		}
		return out
	}
	const day = 24 * time.Hour
	cases := []struct {
		name string
		mod  func(*platformv1alpha1.ClusterUpgradePolicySpec)
		want []string // each error, field path first; none for an accepted policy
	}{
		{"a valid policy", func(*platformv1alpha1.ClusterUpgradePolicySpec) {}, nil},
		{"a NoUpgrades exclusion of 30 days: within its length, but it leaves two days for 48 hours", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.Exclusions = []platformv1alpha1.Exclusion{exclusion("december", "2026-12-15T00:00:00Z", 30*day, platformv1alpha1.ScopeNoUpgrades)}
			s.MaintenanceWindows[0].DaysOfWeek = []platformv1alpha1.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
			s.MaintenanceWindows[0].Duration = "12h"
		}, []string{"spec.exclusions: Forbidden: GKE requires at least 48h0m0s of maintenance availability in any 32 days"}},
		{"a NoUpgrades exclusion of 31 days", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.Exclusions = []platformv1alpha1.Exclusion{exclusion("december", "2026-12-15T00:00:00Z", 31*day, platformv1alpha1.ScopeNoUpgrades)}
		}, []string{"spec.exclusions[0].end: Invalid value: \"2027-01-15T00:00:00Z\": a NoUpgrades exclusion may last at most 30 days on GKE; this one lasts 31d",
			"spec.exclusions: Forbidden: GKE requires"}},
		{"a NoMinorUpgrades exclusion of 180 days", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.Exclusions = []platformv1alpha1.Exclusion{exclusion("h1", "2027-01-01T00:00:00Z", 180*day, platformv1alpha1.ScopeNoMinorUpgrades)}
		}, nil},
		{"a NoMinorOrNodeUpgrades exclusion of 180 days and an hour", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.Exclusions = []platformv1alpha1.Exclusion{exclusion("h1", "2027-01-01T00:00:00Z", 180*day+time.Hour, platformv1alpha1.ScopeNoMinorOrNodeUpgrades)}
		}, []string{"spec.exclusions[0].end: Invalid value: \"2027-06-30T01:00:00Z\": a NoMinorOrNodeUpgrades exclusion may last at most 180 days on GKE; this one lasts 180d1h0m0s"}},
		{"a long exclusion that has ended is not sent, so not checked", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.Exclusions = []platformv1alpha1.Exclusion{exclusion("past", "2026-01-01T00:00:00Z", 90*day, platformv1alpha1.ScopeNoUpgrades)}
		}, nil},
		{"20 exclusions", func(s *platformv1alpha1.ClusterUpgradePolicySpec) { s.Exclusions = manyExclusions(20) }, nil},
		{"21 exclusions", func(s *platformv1alpha1.ClusterUpgradePolicySpec) { s.Exclusions = manyExclusions(21) },
			[]string{"spec.exclusions: Forbidden: GKE keeps at most 20 exclusions on a cluster; 21 exclusions here have not ended, at most 20 may"}},
		{"20 exclusions and a gate", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.Exclusions = manyExclusions(20)
			s.Gates = &platformv1alpha1.Gates{}
		}, []string{"spec.exclusions: Forbidden: GKE keeps at most 20 exclusions on a cluster, one of them kept for the exclusion that holds upgrades back"}},
		{"too little availability in the windows themselves", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.MaintenanceWindows[0].DaysOfWeek = []platformv1alpha1.Weekday{"Saturday"}
		}, []string{"spec.maintenanceWindows: Forbidden: GKE requires at least 48h0m0s"}},
		{"windows GKE's one recurring window cannot hold", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.MaintenanceWindows = append(s.MaintenanceWindows, platformv1alpha1.MaintenanceWindow{Name: "weekend", DaysOfWeek: []platformv1alpha1.Weekday{"Saturday"},
				Start: "10:00", Duration: "8h", TimeZone: "Europe/Berlin"})
		}, []string{"spec.maintenanceWindows: Forbidden: GKE keeps one recurring maintenance window"}},
		{"no GKE provider: nothing to check", func(s *platformv1alpha1.ClusterUpgradePolicySpec) {
			s.Provider = nil
			s.Exclusions = manyExclusions(25)
		}, nil},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			spec := platformv1alpha1.ClusterUpgradePolicySpec{
				MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{*daily.DeepCopy()},
				Provider:           &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "p", Location: "europe-west1", Cluster: "c"}},
			}
			tt.mod(&spec)
			errs := Refusals(spec, now)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tt.want), errs)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d:\n got %s\nwant %s…", i, errs[i], w)
				}
			}
		})
	}
}
