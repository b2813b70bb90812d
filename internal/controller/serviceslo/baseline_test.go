package serviceslo_test

// The baseline monitors of tenant namespaces are kept by the TenantNamespace controller, through
// the same Datadog boundary and inventory as the ServiceSLOs' monitors; their flows are tested
// here, beside the Datadog fake those share.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// monitoredClass is a class with three baseline monitors; its teams' handles are notified.
func monitoredClass(name string) *platformv1alpha1.TenantClass {
	return &platformv1alpha1.TenantClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.TenantClassSpec{
			Monitoring: &platformv1alpha1.ClassMonitoring{Baseline: []platformv1alpha1.BaselineMonitor{
				{Name: "crash-loop", Template: platformv1alpha1.BaselineCrashLooping},
				{Name: "quota", Template: platformv1alpha1.BaselineQuotaCritical},
				{Name: "replicas", Template: platformv1alpha1.BaselineNoAvailableReplicas},
			}},
		},
	}
}

// monitoredTenant creates a class (named after the team), a Team notifying @slack-<team>, and a
// tenant of the class that tightens the quota monitor to 0.9.
func monitoredTenant(t *testing.T, name, team string) {
	t.Helper()
	ctx := context.Background()
	if err := admin.Create(ctx, monitoredClass(team)); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tm := Team(team, team)
	tm.Spec.Notify = []string{"@slack-" + team}
	if err := admin.Create(ctx, tm); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	Must(t, admin.Create(ctx, &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.TenantNamespaceSpec{
			Team: team, Class: team, Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-" + team}},
			Monitoring: &platformv1alpha1.TenantMonitoring{Thresholds: []platformv1alpha1.MonitorThreshold{{Name: "quota", Critical: "0.9"}}},
		},
	}))
}

// waitMonitored waits until the tenant reports its n baseline monitors synced.
func waitMonitored(t *testing.T, name string, n int) *platformv1alpha1.TenantNamespace {
	t.Helper()
	got := &platformv1alpha1.TenantNamespace{}
	Eventually(t, 30*time.Second, fmt.Sprintf("tenant %s has %d baseline monitors", name, n), func() bool {
		if err := admin.Get(context.Background(), client.ObjectKey{Name: name}, got); err != nil {
			return false
		}
		c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.ConditionMonitored)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == got.Generation && len(got.Status.Monitors) == n
	})
	return got
}

// baselineOf returns the fake's monitors carrying a tenant's UID, by baseline monitor name.
func baselineOf(t *testing.T, uid string) map[string]map[string]any {
	t.Helper()
	_, monitors := objectsOf(uid)
	out := map[string]map[string]any{}
	for _, m := range monitors {
		name := datadog.TagValue(tagsOf(m), datadog.TagTierPrefix)
		if _, dup := out[name]; dup {
			t.Errorf("tenant %s has two monitors named %s in Datadog", uid, name)
		}
		out[name] = m
	}
	return out
}

func tagsOf(m map[string]any) []string {
	var out []string
	for _, v := range m["tags"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

func TestBaselineMonitorsFollowTheTenantAndItsClass(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Second)
	monitoredTenant(t, "shop-web", "shop")
	tenant := waitMonitored(t, "shop-web", 3)
	uid := string(tenant.UID)

	t.Run("created in Datadog with the team's handles, scoped to the namespace", func(t *testing.T) {
		got := baselineOf(t, uid)
		if len(got) != 3 {
			t.Fatalf("Datadog holds %d baseline monitors of the tenant, want 3", len(got))
		}
		wantQuery := map[string]string{
			"crash-loop": "max(last_10m):max:kubernetes_state.container.status_report.count.waiting{kube_namespace:shop-web,reason:crashloopbackoff} by {pod_name} > 0",
			"quota":      "max(last_5m):max:selfserve.tenant_quota_used_ratio{tenant:shop-web} by {resource} >= 0.9",
			"replicas":   "max(last_10m):max:kubernetes_state.deployment.replicas_available{kube_namespace:shop-web} by {kube_deployment} / max:kubernetes_state.deployment.replicas_desired{kube_namespace:shop-web} by {kube_deployment} <= 0",
		}
		for name, q := range wantQuery {
			m := got[name]
			if m["query"] != q {
				t.Errorf("%s: query %q, want %q", name, m["query"], q)
			}
			if m["type"] != "query alert" || !strings.HasSuffix(m["message"].(string), "\n@slack-shop") {
				t.Errorf("%s: type %v, message %q: want a query alert notifying @slack-shop", name, m["type"], m["message"])
			}
			if tags := tagsOf(m); !slices.Contains(tags, "team:shop") || !slices.Contains(tags, "kube_namespace:shop-web") || !slices.Contains(tags, datadog.TagManaged) {
				t.Errorf("%s: tags %v lack the team, the namespace or managed-by", name, tags)
			}
			// Upgrades disrupt crash loops and replicas (muted in upgrade windows), not quota.
			if disrupted := slices.Contains(tagsOf(m), datadog.TagUpgradeDisrupted); disrupted != (name != "quota") {
				t.Errorf("%s: tagged %s: %v", name, datadog.TagUpgradeDisrupted, disrupted)
			}
		}
		for _, s := range tenant.Status.Monitors {
			if m := got[s.Name]; m == nil || m["id"].(int64) != s.ID || s.State != "No Data" {
				t.Errorf("status names monitor %s %d in state %q; Datadog holds %v", s.Name, s.ID, s.State, m["id"])
			}
		}
	})

	t.Run("a class edit updates only the monitor it changes, and a quiet poll writes nothing", func(t *testing.T) {
		polls := fake.Requests()["GET /api/v1/slo/search"]
		Eventually(t, 30*time.Second, "two polls", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= polls+2 })
		before := fake.Requests()
		var class platformv1alpha1.TenantClass
		Must(t, admin.Get(ctx, client.ObjectKey{Name: "shop"}, &class))
		class.Spec.Monitoring.Baseline[0].Window = "30m"
		Must(t, admin.Update(ctx, &class))
		Eventually(t, 30*time.Second, "the crash-loop monitor looks over 30m", func() bool {
			return strings.HasPrefix(baselineOf(t, uid)["crash-loop"]["query"].(string), "max(last_30m):")
		})
		polls = fake.Requests()["GET /api/v1/slo/search"]
		Eventually(t, 30*time.Second, "three more polls", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= polls+3 })
		after := fake.Requests()
		for _, route := range []string{"PUT /api/v1/monitor/{id}", "POST /api/v1/monitor", "DELETE /api/v1/monitor/{id}"} {
			want := map[string]int{"PUT /api/v1/monitor/{id}": 1}[route]
			if n := after[route] - before[route]; n != want {
				t.Errorf("%s: %d calls after a class edit that changes one monitor and three polls, want %d", route, n, want)
			}
		}
	})

	t.Run("a monitor's state reaches the tenant's status", func(t *testing.T) {
		id := baselineOf(t, uid)["quota"]["id"].(int64)
		if !fake.SetMonitorState(id, "Alert") {
			t.Fatal("the quota monitor is not in Datadog")
		}
		Eventually(t, 30*time.Second, "status says the quota monitor alerts", func() bool {
			var got platformv1alpha1.TenantNamespace
			Must(t, admin.Get(ctx, client.ObjectKey{Name: "shop-web"}, &got))
			return slices.Contains(got.Status.Monitors, platformv1alpha1.TenantMonitorStatus{Name: "quota", ID: id, State: "Alert"})
		})
	})

	t.Run("a monitor the class drops is deleted", func(t *testing.T) {
		var class platformv1alpha1.TenantClass
		Must(t, admin.Get(ctx, client.ObjectKey{Name: "shop"}, &class))
		class.Spec.Monitoring.Baseline = class.Spec.Monitoring.Baseline[:2]
		Must(t, admin.Update(ctx, &class))
		waitMonitored(t, "shop-web", 2)
		Eventually(t, 30*time.Second, "the replicas monitor is gone from Datadog", func() bool {
			_, there := baselineOf(t, uid)["replicas"]
			return !there
		})
	})

	t.Run("deleting the tenant deletes its monitors", func(t *testing.T) {
		Must(t, admin.Delete(ctx, tenant))
		Eventually(t, 30*time.Second, "no monitor of the tenant is left in Datadog", func() bool { return len(baselineOf(t, uid)) == 0 })
	})
}

// TestBaselineMonitorsOfATenantDeletedWhileTheOperatorWasDownAreSwept: no process saw the
// deletion; the sweep after the first poll of the next one finds the monitors by their tags.
func TestBaselineMonitorsOfATenantDeletedWhileTheOperatorWasDownAreSwept(t *testing.T) {
	ctx := context.Background()
	op := startOperator(t, true, time.Second)
	monitoredTenant(t, "ledger-api", "ledger")
	tenant := waitMonitored(t, "ledger-api", 3)
	Must(t, op.Stop())
	Must(t, admin.Delete(ctx, tenant))
	Eventually(t, 30*time.Second, "the tenant is gone", func() bool {
		return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(tenant), &platformv1alpha1.TenantNamespace{}))
	})
	if n := len(baselineOf(t, string(tenant.UID))); n != 3 {
		t.Fatalf("with no operator running, %d monitors of the tenant are in Datadog, want the 3 it had", n)
	}
	// Another cluster's operator shares the Datadog account: its tenants are none of this one's.
	settings := datadog.Settings{Site: datadog.DefaultSite, URL: srv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey, Timeout: 5 * time.Second}
	other := datadogV1.NewMonitor("max(last_10m):max:kubernetes_state.container.status_report.count.waiting{kube_namespace:ledger-api,reason:crashloopbackoff} by {pod_name} > 0", datadogV1.MONITORTYPE_QUERY_ALERT)
	other.SetTags([]string{datadog.TagManaged, datadog.TagKindTenant, datadog.TagClusterPrefix + "another-cluster", datadog.TagUIDPrefix + "5f0c1e9a-0000-4000-8000-000000000001", datadog.TagTierPrefix + "crash-loop"})
	critical := 0.0
	other.SetOptions(datadogV1.MonitorOptions{Thresholds: &datadogV1.MonitorThresholds{Critical: &critical}})
	kept, err := datadog.NewClient(settings, datadog.NewPacer()).CreateMonitor(ctx, *other)
	Must(t, err)

	startOperator(t, true, time.Second)
	Eventually(t, 30*time.Second, "no monitor of the deleted tenant is left", func() bool { return len(baselineOf(t, string(tenant.UID))) == 0 })
	polls := fake.Requests()["GET /api/v1/slo/search"]
	Eventually(t, 30*time.Second, "two more polls", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= polls+2 })
	if !slices.ContainsFunc(fake.Monitors(), func(m map[string]any) bool { return m["id"] == kept.GetId() }) {
		t.Errorf("the sweep deleted monitor %d of another cluster's tenant", kept.GetId())
	}
	fake.DeleteMonitor(kept.GetId())
}

// TestBaselineMonitorsLostAnswersMakeNoDuplicate: 10 tenants (30 monitors) while every third
// monitor create is stored by Datadog and answered with a 502, and lists lag 3 s behind: each
// tenant ends with exactly one monitor per baseline monitor, and none is left after they go.
func TestBaselineMonitorsLostAnswersMakeNoDuplicate(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, 2*time.Second)
	fake.LoseAnswers("POST /api/v1/monitor", 3, http.StatusBadGateway)
	fake.SetListLag("GET /api/v1/monitor", 3*time.Second)
	t.Cleanup(func() {
		fake.LoseAnswers("POST /api/v1/monitor", 0, 0)
		fake.SetListLag("GET /api/v1/monitor", 0)
	})
	var names []string
	for i := range 10 {
		names = append(names, fmt.Sprintf("flaky-%02d", i))
		monitoredTenant(t, names[i], "flaky")
	}
	var uids []string
	for _, n := range names {
		uids = append(uids, string(waitMonitored(t, n, 3).UID))
	}
	fake.LoseAnswers("POST /api/v1/monitor", 0, 0)
	t.Logf("%d monitor creates sent, the answer to every third lost", fake.Requests()["POST /api/v1/monitor"])
	polls := fake.Requests()["GET /api/v1/slo/search"]
	Eventually(t, time.Minute, "three more polls", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= polls+3 })
	for i, uid := range uids {
		if got := baselineOf(t, uid); len(got) != 3 {
			t.Errorf("%s: Datadog holds %d baseline monitors, want 3", names[i], len(got))
		}
	}
	for _, n := range names {
		Must(t, admin.Delete(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: n}}))
	}
	for i, uid := range uids {
		Eventually(t, time.Minute, names[i]+"'s monitors are gone", func() bool { return len(baselineOf(t, uid)) == 0 })
	}
}

// TestRestartWithMonitoredTenantsWritesNothing: a new process finds a tenant's baseline monitors,
// its ServiceSLO and its Team's dashboard as they should be; until its first read of Datadog it keeps the
// tenant's Monitored condition as it was, and after it there is nothing to write — to the tenant,
// the Team or Datadog.
func TestRestartWithMonitoredTenantsWritesNothing(t *testing.T) {
	op := startOperator(t, true, time.Second)
	monitoredTenant(t, "kiosk-app", "kiosk")
	waitMonitored(t, "kiosk-app", 3)
	slo := newSLO("kiosk-app", "kiosk-availability")
	Must(t, admin.Create(context.Background(), slo))
	slo = waitSynced(t, slo)
	waitDashboardShows(t, "kiosk", slo.Status.SLOID)
	Settled(t, time.Minute, "the operator", op.Requests.Writes)
	Must(t, op.Stop())
	before := fake.Requests()
	// Datadog answers slowly: the new process reconciles the tenant before its first read.
	fake.SetLatency(3 * time.Second)
	t.Cleanup(func() { fake.SetLatency(0) })
	restarted := startOperator(t, true, time.Second)
	Eventually(t, 30*time.Second, "the first poll of the new process", func() bool {
		return fake.Requests()["GET /api/v1/slo/search"] > before["GET /api/v1/slo/search"]
	})
	fake.SetLatency(0)
	polls := before["GET /api/v1/slo/search"]
	Eventually(t, 30*time.Second, "three polls of the new process", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= polls+3 })
	Settled(t, time.Minute, "the restarted operator", restarted.Requests.Writes)
	for _, w := range restarted.Requests.WritesSince(0) {
		if strings.Contains(w, "/tenantnamespaces/") || strings.Contains(w, "/teams/") || strings.Contains(w, "/serviceslos/") {
			t.Errorf("the restarted operator wrote to an unchanged tenant, Team or ServiceSLO: %s", w)
		}
	}
	after := fake.Requests()
	for _, route := range []string{"POST /api/v1/monitor", "PUT /api/v1/monitor/{id}", "DELETE /api/v1/monitor/{id}", "POST /api/v1/dashboard", "PUT /api/v1/dashboard/{id}", "POST /api/v1/slo", "PUT /api/v1/slo/{id}"} {
		if n := after[route] - before[route]; n != 0 {
			t.Errorf("%s: %d calls from the restarted operator, want 0", route, n)
		}
	}
	Must(t, admin.Delete(context.Background(), slo))
	Must(t, admin.Delete(context.Background(), &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "kiosk-app"}}))
}
