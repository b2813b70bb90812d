package tenancy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

func TestBaselineMonitorsTakeTheTighterThreshold(t *testing.T) {
	class := &platformv1alpha1.TenantClass{Spec: platformv1alpha1.TenantClassSpec{
		QuotaPressure: &platformv1alpha1.QuotaThresholds{CriticalPercent: ptr.To[int32](90)},
		Monitoring: &platformv1alpha1.ClassMonitoring{Baseline: []platformv1alpha1.BaselineMonitor{
			{Name: "crash", Template: platformv1alpha1.BaselineCrashLooping, Critical: "2", Window: "30m", Priority: ptr.To[int32](1)},
			{Name: "quota", Template: platformv1alpha1.BaselineQuotaCritical},
			{Name: "replicas", Template: platformv1alpha1.BaselineNoAvailableReplicas, Critical: "0.25"},
			{Name: "pending", Template: platformv1alpha1.BaselinePodsPending, DisruptedByUpgrades: ptr.To(false)},
		}},
	}}
	class.Name = "standard"
	team := &platformv1alpha1.Team{Spec: platformv1alpha1.TeamSpec{QuotaPressure: &platformv1alpha1.QuotaThresholds{CriticalPercent: ptr.To[int32](85)}}}
	defaults := []tenancy.Baseline{
		{Name: "crash", Template: "CrashLooping", Critical: 2, Window: "30m", Priority: 1, Disrupted: true},
		{Name: "quota", Template: "QuotaCritical", Critical: 0.85, Window: "5m", Priority: 3},
		{Name: "replicas", Template: "NoAvailableReplicas", Critical: 0.25, Below: true, Window: "10m", Priority: 3, Disrupted: true},
		{Name: "pending", Template: "PodsPending", Critical: 0, Window: "15m", Priority: 3},
	}
	with := func(f func([]tenancy.Baseline)) []tenancy.Baseline {
		out := append([]tenancy.Baseline(nil), defaults...)
		f(out)
		return out
	}
	cases := []struct {
		name       string
		thresholds []platformv1alpha1.MonitorThreshold
		want       []tenancy.Baseline
		// ignored are parts of the errors, one per threshold that does not apply.
		ignored []string
	}{
		{name: "none: the class's, quota from the team's critical pressure", want: defaults},
		{name: "tighter above: lower", thresholds: []platformv1alpha1.MonitorThreshold{{Name: "crash", Critical: "1"}, {Name: "quota", Critical: "0.8"}},
			want: with(func(b []tenancy.Baseline) { b[0].Critical, b[1].Critical = 1, 0.8 })},
		{name: "tighter below: higher", thresholds: []platformv1alpha1.MonitorThreshold{{Name: "replicas", Critical: "0.5"}},
			want: with(func(b []tenancy.Baseline) { b[2].Critical = 0.5 })},
		{name: "equal applies", thresholds: []platformv1alpha1.MonitorThreshold{{Name: "crash", Critical: "2"}}, want: defaults},
		{name: "looser above is ignored", thresholds: []platformv1alpha1.MonitorThreshold{{Name: "crash", Critical: "3"}},
			want: defaults, ignored: []string{"spec.monitoring.thresholds[0].critical", "looser than class standard's 2", "alerts above"}},
		{name: "looser below is ignored", thresholds: []platformv1alpha1.MonitorThreshold{{Name: "replicas", Critical: "0"}},
			want: defaults, ignored: []string{"spec.monitoring.thresholds[0].critical", "looser than class standard's 0.25", "alerts below"}},
		{name: "a monitor the class lacks", thresholds: []platformv1alpha1.MonitorThreshold{{Name: "crash", Critical: "0"}, {Name: "oom", Critical: "0"}},
			want: with(func(b []tenancy.Baseline) { b[0].Critical = 0 }), ignored: []string{"spec.monitoring.thresholds[1].name", "no baseline monitor"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tenant := &platformv1alpha1.TenantNamespace{}
			if tc.thresholds != nil {
				tenant.Spec.Monitoring = &platformv1alpha1.TenantMonitoring{Thresholds: tc.thresholds}
			}
			got, errs := tenancy.BaselineMonitors(tenant, class, team)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("monitors (-want +got):\n%s", diff)
			}
			if len(errs) != min(len(tc.ignored), 1) {
				t.Fatalf("errors %v, want one saying %v", errs, tc.ignored)
			}
			for _, w := range tc.ignored {
				if !strings.Contains(errs.ToAggregate().Error(), w) {
					t.Errorf("%v does not say %q", errs, w)
				}
			}
		})
	}
	t.Run("a class with no monitoring gives none, and refuses every threshold", func(t *testing.T) {
		tenant := &platformv1alpha1.TenantNamespace{Spec: platformv1alpha1.TenantNamespaceSpec{Monitoring: &platformv1alpha1.TenantMonitoring{
			Thresholds: []platformv1alpha1.MonitorThreshold{{Name: "crash", Critical: "0"}}}}}
		got, errs := tenancy.BaselineMonitors(tenant, &platformv1alpha1.TenantClass{}, nil)
		if len(got) != 0 || len(errs) != 1 {
			t.Errorf("got %v and errors %v, want no monitor and one error", got, errs)
		}
	})
}
