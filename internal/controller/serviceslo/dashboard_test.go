package serviceslo_test

// A Team's dashboard is kept by the Team controller through the Datadog boundary the ServiceSLOs
// use; its flow is tested here, beside the Datadog fake and the SLOs it shows.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// dashboardOf returns the fake's dashboard with this ID, nil when there is none.
func dashboardOf(id string) map[string]any {
	for _, d := range fake.Dashboards() {
		if d["id"] == id {
			return d
		}
	}
	return nil
}

// widgetTypes lists a dashboard's widgets by type, with the definition of each.
func widgetTypes(d map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, w := range d["widgets"].([]any) {
		def := w.(map[string]any)["definition"].(map[string]any)
		out[def["type"].(string)] = append(out[def["type"].(string)], def)
	}
	return out
}

// waitDashboardShows waits until the Team's dashboard has an SLO widget for sloID.
func waitDashboardShows(t *testing.T, name, sloID string) (*platformv1alpha1.Team, map[string]any) {
	t.Helper()
	team := &platformv1alpha1.Team{}
	var d map[string]any
	Eventually(t, 30*time.Second, "team "+name+"'s dashboard shows SLO "+sloID, func() bool {
		Must(t, admin.Get(context.Background(), client.ObjectKey{Name: name}, team))
		if team.Status.Dashboard == nil {
			return false
		}
		d = dashboardOf(team.Status.Dashboard.ID)
		for _, w := range widgetTypes(d)["slo"] {
			if w["slo_id"] == sloID {
				return true
			}
		}
		return false
	})
	return team, d
}

func TestTeamDashboardFollowsItsSLOsAndIsPutBack(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Second)
	tenantNamespace(t, "fulfilment", "fulfilment")
	slo := newSLO("fulfilment", "fulfilment-availability")
	Must(t, admin.Create(ctx, slo))
	slo = waitSynced(t, slo)

	team, d := waitDashboardShows(t, "fulfilment", slo.Status.SLOID)
	if want := srv.URL + "/dashboard/" + team.Status.Dashboard.ID + "/"; !strings.HasPrefix(team.Status.Dashboard.URL, want) {
		t.Errorf("status URL %q, want it under %q", team.Status.Dashboard.URL, want)
	}
	w := widgetTypes(d)
	if q, _ := w["manage_status"][0]["query"].(string); !strings.Contains(q, "team:fulfilment") {
		t.Errorf("monitor summary query %q does not select the team's monitors", q)
	}
	if len(w["timeseries"]) != 1 || !strings.Contains(toJSON(t, w["timeseries"][0]), "selfserve.tenant_quota_used_ratio{team:fulfilment}") {
		t.Errorf("no quota timeseries of the team: %v", w["timeseries"])
	}

	t.Run("an SLO in a namespace SREs labelled for the team joins the dashboard", func(t *testing.T) {
		Must(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fulfilment-ops", Labels: map[string]string{platformv1alpha1.LabelTeam: "fulfilment"}}}))
		ops := newSLO("fulfilment-ops", "queue-latency")
		Must(t, admin.Create(ctx, ops))
		ops = waitSynced(t, ops)
		team, d = waitDashboardShows(t, "fulfilment", ops.Status.SLOID)
		if n := len(widgetTypes(d)["slo"]); n != 2 {
			t.Errorf("the dashboard shows %d SLOs, want the tenant's and the labelled namespace's", n)
		}
	})

	// Quiet polls write nothing, and read no dashboard by its ID (the list of every dashboard, one
	// read per poll for all Teams, is the inventory's; docs/slo.md counts it).
	t.Run("quiet polls write nothing", func(t *testing.T) {
		polls := fake.Requests()["GET /api/v1/slo/search"]
		Eventually(t, 30*time.Second, "one poll", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= polls+1 })
		before := fake.Requests()
		Eventually(t, 30*time.Second, "three more polls", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= polls+4 })
		after := fake.Requests()
		for _, route := range []string{"POST /api/v1/dashboard", "PUT /api/v1/dashboard/{id}", "GET /api/v1/dashboard/{id}"} {
			if n := after[route] - before[route]; n != 0 {
				t.Errorf("%s: %d calls in three quiet polls, want 0", route, n)
			}
		}
	})

	t.Run("an edit in Datadog is put back at the next poll", func(t *testing.T) {
		if !fake.EditDashboard(team.Status.Dashboard.ID, "mine now") {
			t.Fatal("the dashboard is not in Datadog")
		}
		Eventually(t, 30*time.Second, "the title is put back", func() bool {
			return dashboardOf(team.Status.Dashboard.ID)["title"] == "Team fulfilment (selfserve)"
		})
	})

	t.Run("deleting the team deletes its dashboard", func(t *testing.T) {
		id := team.Status.Dashboard.ID
		Must(t, admin.Delete(ctx, team))
		Eventually(t, 30*time.Second, "the dashboard is gone", func() bool { return dashboardOf(id) == nil })
	})
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	Must(t, err)
	return string(b)
}

// TestTeamDashboardLostCreateMakesNoDuplicate: Datadog stores the dashboard but the answer to its
// create is lost (a 502), and lists trail writes by 2 s: the team still ends with one dashboard.
func TestTeamDashboardLostCreateMakesNoDuplicate(t *testing.T) {
	ctx := context.Background()
	fake.LoseAnswers("POST /api/v1/dashboard", 1, http.StatusBadGateway)
	fake.SetListLag("GET /api/v1/dashboard", 2*time.Second)
	t.Cleanup(func() {
		fake.LoseAnswers("POST /api/v1/dashboard", 0, 0)
		fake.SetListLag("GET /api/v1/dashboard", 0)
	})
	startOperator(t, true, time.Second)
	Must(t, CreateTeams(ctx, admin, []string{"returns"}, "default"))
	team := &platformv1alpha1.Team{}
	Eventually(t, 30*time.Second, "team returns has a dashboard", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKey{Name: "returns"}, team))
		return team.Status.Dashboard != nil
	})
	fake.LoseAnswers("POST /api/v1/dashboard", 0, 0)
	polls := fake.Requests()["GET /api/v1/slo/search"]
	Eventually(t, 30*time.Second, "three more polls", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= polls+3 })
	n := 0
	for _, d := range fake.Dashboards() {
		if d["title"] == "Team returns (selfserve)" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("Datadog holds %d dashboards of team returns after %d creates whose answers were lost, want 1", n, fake.Requests()["POST /api/v1/dashboard"])
	}
	Must(t, admin.Delete(ctx, team))
	Eventually(t, 30*time.Second, "the dashboard is gone", func() bool { return dashboardOf(team.Status.Dashboard.ID) == nil })
}
