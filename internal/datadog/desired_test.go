package datadog

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

func serviceSLO(mod func(*platformv1alpha1.ServiceSLOSpec)) *platformv1alpha1.ServiceSLO {
	s := &platformv1alpha1.ServiceSLO{
		ObjectMeta: metav1.ObjectMeta{Name: "availability", Namespace: "checkout", UID: "u-1"},
		Spec: platformv1alpha1.ServiceSLOSpec{
			Service:     "checkout",
			Description: "checkout answers",
			Indicator: platformv1alpha1.Indicator{Metric: &platformv1alpha1.MetricIndicator{
				Good: "sum:ok{service:checkout}.as_count()", Total: "sum:all{service:checkout}.as_count()"}},
			Objectives: []platformv1alpha1.Objective{{Timeframe: "30d", Target: "99.9"}},
			Tags:       []string{"Env:Prod", "tier:critical"},
		},
	}
	if mod != nil {
		mod(&s.Spec)
	}
	return s
}

func TestTiers(t *testing.T) {
	names := func(ts []Tier) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name()+"/"+t.Severity)
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		name          string
		mod           func(*platformv1alpha1.ServiceSLOSpec)
		want, skipped string
	}{
		{"recommended for 30d", nil, "14.4x-1h-5m/page 6x-6h-30m/page 3x-24h-2h/ticket", ""},
		{"recommended for the alert timeframe, not the first objective", func(s *platformv1alpha1.ServiceSLOSpec) {
			s.Objectives = append(s.Objectives, platformv1alpha1.Objective{Timeframe: "7d", Target: "99.9"})
			s.Alerting = &platformv1alpha1.Alerting{Timeframe: "7d"}
		}, "16.8x-1h-5m/page 5.6x-6h-30m/page 2.8x-24h-2h/ticket", ""},
		{"a low target skips the tiers above 1/(1-target)", func(s *platformv1alpha1.ServiceSLOSpec) {
			s.Objectives[0].Target = "90" // ceiling 10
		}, "6x-6h-30m/page 3x-24h-2h/ticket", "14.4x-1h-5m"},
		{"explicit tiers, severity page by default", func(s *platformv1alpha1.ServiceSLOSpec) {
			s.Alerting = &platformv1alpha1.Alerting{Tiers: []platformv1alpha1.BurnRateTier{
				{LongWindow: "2h", ShortWindow: "10m", BurnRate: "10"}, {LongWindow: "12h", ShortWindow: "1h", BurnRate: "2.5", Severity: "ticket"}}}
		}, "10x-2h-10m/page 2.5x-12h-1h/ticket", ""},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, skipped := Tiers(serviceSLO(tt.mod))
			if names(got) != tt.want || strings.Join(skipped, " ") != tt.skipped {
				t.Errorf("tiers %q skipped %q, want %q and %q", names(got), skipped, tt.want, tt.skipped)
			}
		})
	}
}

func TestDesiredSLO(t *testing.T) {
	warning := "99.95"
	cases := []struct {
		name string
		mod  func(*platformv1alpha1.ServiceSLOSpec)
		want SLO
	}{
		{"a metric SLO: tags lower case, sorted, the operator's first", nil, SLO{
			Name: "checkout (checkout/availability)", Description: "checkout answers", Type: "metric",
			Tags:       []string{"env:prod", "managed-by:selfserve", "selfserve-uid:u-1", "service:checkout", "team:payments", "tier:critical"},
			Thresholds: []Threshold{{Timeframe: "30d", Target: 99.9}},
			Numerator:  "sum:ok{service:checkout}.as_count()", Denominator: "sum:all{service:checkout}.as_count()",
		}},
		{"objectives sorted by timeframe, with a warning", func(s *platformv1alpha1.ServiceSLOSpec) {
			s.Objectives = []platformv1alpha1.Objective{{Timeframe: "90d", Target: "99"}, {Timeframe: "30d", Target: "99.9", Warning: &warning}}
			s.Tags = nil
		}, SLO{
			Name: "checkout (checkout/availability)", Description: "checkout answers", Type: "metric",
			Tags:       []string{"managed-by:selfserve", "selfserve-uid:u-1", "service:checkout", "team:payments"},
			Thresholds: []Threshold{{Timeframe: "30d", Target: 99.9, Warning: ptr(99.95)}, {Timeframe: "90d", Target: 99}},
			Numerator:  "sum:ok{service:checkout}.as_count()", Denominator: "sum:all{service:checkout}.as_count()",
		}},
		{"a monitor SLO", func(s *platformv1alpha1.ServiceSLOSpec) {
			s.Indicator = platformv1alpha1.Indicator{Monitors: &platformv1alpha1.MonitorsIndicator{IDs: []int64{7, 8}}}
			s.Tags = nil
		}, SLO{
			Name: "checkout (checkout/availability)", Description: "checkout answers", Type: "monitor",
			Tags:       []string{"managed-by:selfserve", "selfserve-uid:u-1", "service:checkout", "team:payments"},
			Thresholds: []Threshold{{Timeframe: "30d", Target: 99.9}}, MonitorIDs: []int64{7, 8},
		}},
		{"a time-slice SLO every minute", func(s *platformv1alpha1.ServiceSLOSpec) {
			s.Indicator = platformv1alpha1.Indicator{TimeSlice: &platformv1alpha1.TimeSliceIndicator{Query: "p95:latency{service:checkout}", Comparator: "<", Threshold: "0.3", Interval: "1m"}}
			s.Tags = nil
		}, SLO{
			Name: "checkout (checkout/availability)", Description: "checkout answers", Type: "time_slice",
			Tags:       []string{"managed-by:selfserve", "selfserve-uid:u-1", "service:checkout", "team:payments"},
			Thresholds: []Threshold{{Timeframe: "30d", Target: 99.9}},
			TimeSlice:  &TimeSlice{Query: "p95:latency{service:checkout}", Comparator: "<", Threshold: 0.3, IntervalSeconds: 60},
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := DesiredSLO(serviceSLO(tt.mod), "payments", "")
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
			// What the SDK sends reads back as the same SLO: no drift right after a create or
			// an update.
			if d := diff(got, sloOf(got.object())); d != "" {
				t.Errorf("read back differs:\n%s", d)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestDesiredMonitor(t *testing.T) {
	two, five := int32(2), int32(5)
	cases := []struct {
		name        string
		mod         func(*platformv1alpha1.ServiceSLOSpec)
		tier        Tier
		teamNotify  []string
		wantPrio    int64
		wantNotify  string
		wantRenot   int64
		wantQueryIn string
	}{
		{"a page tier notifies the team when the SLO names nobody", nil, Tier{14.4, "1h", "5m", "page"}, []string{"@slack-payments"}, 2, "\n@slack-payments", 0,
			`burn_rate("abc").over("30d").long_window("1h").short_window("5m") > 14.4`},
		{"a ticket tier is one priority lower, the SLO's handles win", func(s *platformv1alpha1.ServiceSLOSpec) {
			s.Alerting = &platformv1alpha1.Alerting{Notify: []string{"@pagerduty-checkout"}, Priority: &two, RenotifyInterval: "2h"}
		}, Tier{3, "24h", "2h", "ticket"}, []string{"@slack-payments"}, 3, "\n@pagerduty-checkout", 120, `> 3`},
		{"priority stops at 5", func(s *platformv1alpha1.ServiceSLOSpec) {
			s.Alerting = &platformv1alpha1.Alerting{Priority: &five}
		}, Tier{3, "24h", "2h", "ticket"}, nil, 5, "(severity: ticket). The ServiceSLO is checkout/availability.", 0, `> 3`},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			m := DesiredMonitor(serviceSLO(tt.mod), "payments", "", "abc", tt.tier, tt.teamNotify)
			if m.Priority != tt.wantPrio || !strings.HasSuffix(m.Message, tt.wantNotify) || m.Renotify != tt.wantRenot || !strings.Contains(m.Query, tt.wantQueryIn) {
				t.Errorf("monitor %+v", m)
			}
			if m.Tier != tt.tier.Name() || !strings.Contains(strings.Join(m.Tags, ","), "selfserve-tier:"+tt.tier.Name()+",") {
				t.Errorf("tier %q, tags %v", m.Tier, m.Tags)
			}
			if d := diff(m, monitorOf(m.forCreate())); d != "" {
				t.Errorf("read back after create differs:\n%s", d)
			}
			u := m.forUpdate()
			if u.GetName() != m.Name || u.GetQuery() != m.Query || u.GetPriority() != m.Priority {
				t.Errorf("update request %+v", u)
			}
		})
	}
}

func TestDiffSaysWhatDiffers(t *testing.T) {
	want := DesiredSLO(serviceSLO(nil), "payments", "")
	have := want
	have.Tags = append([]string{"extra:tag"}, want.Tags...)
	if d := diff(want, have); !strings.Contains(d, "extra:tag") {
		t.Errorf("diff %q does not name the extra tag", d)
	}
	have = want
	have.MonitorIDs = []int64{} // Datadog answers [] where nothing was sent
	if d := diff(want, have); d != "" {
		t.Errorf("an empty list is not a difference: %s", d)
	}
}

// TestEverythingManagedCarriesTheClusterName: the SLO, its burn-rate monitors and a tenant's
// baseline monitors are tagged cluster:<name> when the operator is given one (what a downstream
// cluster's rollout gates select), and not tagged at all without one.
func TestEverythingManagedCarriesTheClusterName(t *testing.T) {
	s := serviceSLO(nil)
	tier := Tier{BurnRate: 14.4, Long: "1h", Short: "5m", Severity: "page"}
	base := tenancy.Baseline{Name: "crash-loop", Template: platformv1alpha1.BaselineCrashLooping, Window: "10m", Critical: 3, Priority: 2}
	for name, tags := range map[string][]string{
		"SLO":      DesiredSLO(s, "payments", "staging").Tags,
		"monitor":  DesiredMonitor(s, "payments", "staging", "abc", tier, nil).Tags,
		"baseline": DesiredBaseline("checkout", "uid-1", "kube-system-uid", "staging", "payments", "standard", base, nil).Tags,
	} {
		if !slices.Contains(tags, "cluster:staging") {
			t.Errorf("%s tags %v lack cluster:staging", name, tags)
		}
	}
	for name, tags := range map[string][]string{
		"SLO":      DesiredSLO(s, "payments", "").Tags,
		"baseline": DesiredBaseline("checkout", "uid-1", "kube-system-uid", "", "payments", "standard", base, nil).Tags,
	} {
		if slices.ContainsFunc(tags, func(t string) bool { return strings.HasPrefix(t, "cluster:") }) {
			t.Errorf("%s tags %v name a cluster though the operator has no name", name, tags)
		}
	}
}
