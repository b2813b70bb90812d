package tenancy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// TestReleasedNamespaceGoesBackToTheSameTeamOnly: a namespace released with its Team's UID goes
// back only to that Team; one re-created under the old name (another UID) cannot take the old
// team's data; one released without a Team goes back to nobody until an admin relabels it; one
// released before UIDs were recorded goes back by name.
func TestReleasedNamespaceGoesBackToTheSameTeamOnly(t *testing.T) {
	tenant := &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: platformv1alpha1.TenantNamespaceSpec{Team: "search"}}
	team := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "search", UID: "uid-2"}}
	released := func(uid string, recorded bool) *corev1.Namespace {
		labels := map[string]string{platformv1alpha1.LabelTeam: "search", LabelReleased: "true"}
		if recorded {
			labels[LabelTeamUID] = uid
		}
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: labels}}
	}
	for _, c := range []struct {
		name string
		ns   *corev1.Namespace
		team *platformv1alpha1.Team
		want bool
	}{
		{"released by this very Team", released("uid-2", true), team, true},
		{"released by an earlier Team of the same name", released("uid-1", true), team, false},
		{"released while the Team did not exist", released(NoTeam, true), team, false},
		{"released before UIDs were recorded", released("", false), team, true},
		{"no Team to compare with", released("uid-2", true), nil, false},
	} {
		if got := Adoptable(c.ns, tenant, c.team); got != c.want {
			t.Errorf("%s: Adoptable = %t, want %t", c.name, got, c.want)
		}
	}
}
