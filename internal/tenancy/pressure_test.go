package tenancy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestPressureOfWithHysteresis(t *testing.T) {
	q := resource.MustParse
	hard := corev1.ResourceList{corev1.ResourcePods: q("100"), corev1.ResourceRequestsMemory: q("10Gi"), "services": q("0")}
	used := func(pods string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourcePods: q(pods), corev1.ResourceRequestsMemory: q("1Gi")}
	}
	def := Thresholds{Warning: 80, Critical: 95}
	cases := []struct {
		name string
		prev Level
		pods string
		t    Thresholds
		want Level
	}{
		{"below", BelowThresholds, "50", def, BelowThresholds},
		{"at the warning threshold: entered", BelowThresholds, "80", def, Warning},
		{"at the critical threshold from below: straight to critical", BelowThresholds, "95", def, Critical},
		{"just below warning again: stays (hysteresis)", Warning, "77", def, Warning},
		{"5 points below: stays, the band is inclusive", Warning, "75", def, Warning},
		{"more than 5 points below: left", Warning, "74", def, BelowThresholds},
		{"critical, dropping to 91: stays critical", Critical, "91", def, Critical},
		{"critical, dropping to 85: warning", Critical, "85", def, Warning},
		{"critical, dropping to 60: below", Critical, "60", def, BelowThresholds},
		{"a team's lower warning", BelowThresholds, "60", Thresholds{Warning: 60, Critical: 90}, Warning},
		{"over the quota (a quota lowered under its use)", BelowThresholds, "130", def, Critical},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p := PressureOf(tt.prev, hard, used(tt.pods), tt.t)
			if p.Level != tt.want {
				t.Errorf("level %v, want %v (%s)", p.Level, tt.want, p.Message)
			}
			if _, ok := p.Percent["services"]; ok {
				t.Error("a hard limit of 0 has no percentage")
			}
			if p.Percent[corev1.ResourceRequestsMemory] != 10 {
				t.Errorf("memory %d %%, want 10", p.Percent[corev1.ResourceRequestsMemory])
			}
		})
	}
	p := PressureOf(BelowThresholds, hard, used("87"), def)
	if p.Message != "pods at 87 % of 100 (warning at 80 %, critical at 95 %)" {
		t.Errorf("message %q", p.Message)
	}
	if LevelOf(p.Level.Reason()) != p.Level || LevelOf("Provisioned") != BelowThresholds {
		t.Error("a level does not survive its reason")
	}
}

func TestThresholdsForPreferTheTeam(t *testing.T) {
	i := func(v int32) *int32 { return &v }
	class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: platformv1alpha1.TenantClassSpec{QuotaPressure: &platformv1alpha1.QuotaThresholds{WarningPercent: i(70), CriticalPercent: i(90)}}}
	team := &platformv1alpha1.Team{Spec: platformv1alpha1.TeamSpec{QuotaPressure: &platformv1alpha1.QuotaThresholds{WarningPercent: i(60)}}}
	for name, tt := range map[string]struct {
		team  *platformv1alpha1.Team
		class *platformv1alpha1.TenantClass
		want  Thresholds
	}{
		"defaults":                             {nil, nil, Thresholds{80, 95}},
		"the class's":                          {nil, class, Thresholds{70, 90}},
		"the team's warning, class's critical": {team, class, Thresholds{60, 90}},
	} {
		if got := ThresholdsFor(tt.team, tt.class); got != tt.want {
			t.Errorf("%s: %+v, want %+v", name, got, tt.want)
		}
	}
}
