package upgradepolicy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// upstreamSLO creates, in the Datadog fake, an SLO as the operator of cluster `cluster` makes
// it for a ServiceSLO of team (tagged cluster:, team:, managed-by:), with the given budget.
func upstreamSLO(t *testing.T, dd *datadog.Client, cluster, team string, budget float64) string {
	t.Helper()
	req := datadogV1.NewServiceLevelObjectiveRequest("checkout availability ("+team+")", []datadogV1.SLOThreshold{{Timeframe: datadogV1.SLOTIMEFRAME_THIRTY_DAYS, Target: 99.9}}, datadogV1.SLOTYPE_METRIC)
	req.SetQuery(datadogV1.ServiceLevelObjectiveQuery{Numerator: "sum:trace.http.request.hits{service:checkout}.as_count()", Denominator: "sum:trace.http.request.hits{service:checkout}.as_count()"})
	req.SetTags([]string{datadog.TagClusterNamePrefix + cluster, "team:" + team, datadog.TagManaged, "service:checkout"})
	slo, err := dd.CreateSLO(context.Background(), *req)
	Must(t, err)
	setBudget(t, slo.GetId(), budget)
	return slo.GetId()
}

func setBudget(t *testing.T, id string, budget float64) {
	t.Helper()
	if !fake.SetSLOStatus(id, "30d", datadogfake.SLOStatus{SLI: 99.95, ErrorBudgetRemaining: budget, State: "ok"}) {
		t.Fatalf("no SLO %s in the fake", id)
	}
}

func upstreamOf(p *platformv1alpha1.ClusterUpgradePolicy, name string) platformv1alpha1.UpstreamStatus {
	for _, u := range p.Status.Upstreams {
		if u.Name == name {
			return u
		}
	}
	return platformv1alpha1.UpstreamStatus{}
}

// TestProductionFollowsStagingAfterACleanSoak drives a staging cluster (in the GKE fake, on the
// test's clock) through an upgrade while production (this envtest cluster, v1.37) follows it
// with a 72h soak and a budget gate on staging's SLOs (in the Datadog fake, tagged
// cluster:staging): production's minor upgrades are held by an exclusion in GKE while staging
// runs no newer minor, while it soaks, and while its budget is burnt (the soak then starts
// again); a clean soak releases them. An exhausted SLO of a team the gate does not list, or of
// another cluster, holds nothing.
func TestProductionFollowsStagingAfterACleanSoak(t *testing.T) {
	ctx := context.Background()
	t0 := mustTime("2026-12-06T08:00:00Z")
	clock.Set(t0)
	gkeFake.SetClock(clock.Now)
	staging := gke.ClusterName("acme-staging-42", "europe-west1", "staging")
	prod := gke.ClusterName("acme-prod-4711", "europe-west1", "prod-eu")
	gkeFake.AddCluster(staging)
	gkeFake.AddCluster(prod)
	gkeFake.SetVersions(staging, "1.37.4-gke.1200", "1.37.4-gke.1200", "1.37.4-gke.1200")
	dd := datadog.NewClient(datadog.Settings{URL: fakeURL(t), APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}, datadog.NewPacer())
	gated := upstreamSLO(t, dd, "staging", "payments", 80)
	upstreamSLO(t, dd, "staging", "orders", -20)    // not a team of the gate
	upstreamSLO(t, dd, "production", "payments", 0) // this cluster's own, not staging's

	every := []platformv1alpha1.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	Must(t, admin.Create(ctx, &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "follows-staging"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "nightly", DaysOfWeek: every, Start: "01:00", Duration: "4h", TimeZone: "UTC"}},
			Rollout: &platformv1alpha1.Rollout{
				Upstreams: []platformv1alpha1.Upstream{{Name: "staging", GKE: platformv1alpha1.GKECluster{Project: "acme-staging-42", Location: "europe-west1", Cluster: "staging"}}},
				SoakTime:  "72h",
				Gates: &platformv1alpha1.UpstreamGates{ErrorBudget: []platformv1alpha1.UpstreamBudgetGate{{
					Teams: []string{"payments"}, Timeframe: "30d", MinRemainingPercent: 10,
				}}},
			},
			Provider: &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: "prod-eu"}},
		},
	}))
	t.Cleanup(func() {
		gkeFake.SetClock(nil)
		_ = admin.Delete(ctx, &platformv1alpha1.ClusterUpgradePolicy{ObjectMeta: metav1.ObjectMeta{Name: "follows-staging"}})
	})
	// at sets the clock inside a window (01:00-05:00 UTC), hours after t0's day began.
	at := func(hours int) time.Time {
		now := mustTime("2026-12-07T02:00:00Z").Add(time.Duration(hours) * time.Hour)
		clock.Set(now)
		return now
	}
	// movedTo sets the clock and waits until the operator evaluated the policy at the new time
	// (its next evaluation, the window's end that day, lies past it): a reconcile begun before
	// reads the time before the gates, and would start a soak at the old time had the test
	// changed a gate meanwhile.
	movedTo := func(hours int) time.Time {
		t.Helper()
		now := at(hours)
		poke(t, "follows-staging")
		p := &platformv1alpha1.ClusterUpgradePolicy{}
		Eventually(t, 20*time.Second, "an evaluation at the new time", func() bool {
			Must(t, admin.Get(ctx, client.ObjectKey{Name: "follows-staging"}, p))
			return p.Status.NextEvaluation != nil && p.Status.NextEvaluation.After(now)
		})
		return now
	}
	// held waits until production is held for reason with staging's status as want says.
	held := func(reason, why string, want func(platformv1alpha1.UpstreamStatus) bool) *platformv1alpha1.ClusterUpgradePolicy {
		t.Helper()
		poke(t, "follows-staging")
		p := &platformv1alpha1.ClusterUpgradePolicy{}
		Eventually(t, 20*time.Second, why+": UpgradeAllowed=False/"+reason, func() bool {
			Must(t, admin.Get(ctx, client.ObjectKey{Name: "follows-staging"}, p))
			c := meta.FindStatusCondition(p.Status.Conditions, platformv1alpha1.ConditionUpgradeAllowed)
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason && want(upstreamOf(p, "staging"))
		})
		if len(p.Status.Blockers) != 1 || p.Status.Blockers[0].Kind != "Cluster" || p.Status.Blockers[0].Scope != platformv1alpha1.ScopeNoMinorUpgrades {
			t.Errorf("%s: blockers %+v, want staging's, of scope NoMinorUpgrades", why, p.Status.Blockers)
		}
		Eventually(t, 10*time.Second, why+": GKE holds minor upgrades back (selfserve-gate)", func() bool {
			pol := gkeFake.Policy(prod)
			if pol == nil || pol.Window == nil {
				return false
			}
			ex, ok := pol.Window.MaintenanceExclusions[gke.GateExclusionName]
			return ok && ex.MaintenanceExclusionOptions != nil && ex.MaintenanceExclusionOptions.Scope == "NO_MINOR_UPGRADES"
		})
		return p
	}

	// Staging runs the same minor as production: nothing to follow yet.
	at(0)
	p := held(platformv1alpha1.ReasonUpstreamSoaking, "staging on 1.37", func(u platformv1alpha1.UpstreamStatus) bool { return u.Version != "" })
	if u := upstreamOf(p, "staging"); u.Version != "1.37.4-gke.1200" || u.Soaked || !strings.Contains(u.Message, "not a newer minor") {
		t.Errorf("staging on 1.37: %+v", u)
	}

	// Staging takes 1.38: the soak starts when its upgrade ended, as GKE's operations say.
	upgraded := at(1)
	gkeFake.Upgrade(staging, "1.38.1-gke.1100")
	p = held(platformv1alpha1.ReasonUpstreamSoaking, "staging soaking 1.38", func(u platformv1alpha1.UpstreamStatus) bool { return u.Version == "1.38.1-gke.1100" })
	u := upstreamOf(p, "staging")
	if u.Version != "1.38.1-gke.1100" || u.Since == nil || !u.Since.Time.Equal(upgraded) || u.SoakedAt == nil || !u.SoakedAt.Time.Equal(upgraded.Add(72*time.Hour)) {
		t.Errorf("staging soaking: %+v, want 1.38.1-gke.1100 since %s, soaked at +72h", u, upgraded)
	}
	if p.Status.NextEvaluation == nil || p.Status.NextEvaluation.After(upgraded.Add(72*time.Hour)) {
		t.Errorf("next evaluation %v, want by the end of the soak", p.Status.NextEvaluation)
	}

	// A day later staging's payments SLO burns its budget: held, and the soak is over.
	at(25)
	setBudget(t, gated, 4)
	p = held(platformv1alpha1.ReasonUpstreamBudgetLow, "staging's budget burnt", func(platformv1alpha1.UpstreamStatus) bool { return true })
	if u := upstreamOf(p, "staging"); u.SoakStart != nil || u.SoakedAt != nil || !strings.Contains(u.Message, "under 10%") {
		t.Errorf("burnt: %+v", u)
	}

	// The budget recovers a day later: the soak starts again from then, so at the first soak's
	// end (72h after the upgrade) production is still held.
	recovered := movedTo(49)
	setBudget(t, gated, 60)
	p = held(platformv1alpha1.ReasonUpstreamSoaking, "the soak starts again", func(u platformv1alpha1.UpstreamStatus) bool { return u.SoakStart != nil })
	if u := upstreamOf(p, "staging"); u.SoakStart == nil || !u.SoakStart.Time.Equal(recovered) || !u.SoakedAt.Time.Equal(recovered.Add(72*time.Hour)) {
		t.Errorf("after the burn: %+v, want a soak from %s", u, recovered)
	}
	at(73)
	held(platformv1alpha1.ReasonUpstreamSoaking, "the first soak's end passed, the second's not", func(u platformv1alpha1.UpstreamStatus) bool {
		return !u.Soaked && strings.Contains(u.Message, "2026-12-09T03:00:00Z")
	})

	// A clean soak: production may upgrade, and GKE's hold is lifted.
	at(49 + 72)
	poke(t, "follows-staging")
	p = waitAllowed(t, "follows-staging", metav1.ConditionTrue, platformv1alpha1.ReasonInsideWindow)
	if u := upstreamOf(p, "staging"); !u.Soaked || len(p.Status.Blockers) != 0 {
		t.Errorf("soaked: %+v, blockers %+v", u, p.Status.Blockers)
	}
	Eventually(t, 10*time.Second, "GKE's hold is lifted", func() bool {
		pol := gkeFake.Policy(prod)
		_, held := pol.Window.MaintenanceExclusions[gke.GateExclusionName]
		return !held
	})

	// A monitor gate: staging's gate monitor alerts (tagged cluster:staging); a burn-rate monitor
	// selfserve made for another team's SLO in staging, alerting too, does not count.
	updatePolicy(t, "follows-staging", func(p *platformv1alpha1.ClusterUpgradePolicy) {
		p.Spec.Rollout.Gates.Monitors = []platformv1alpha1.UpstreamMonitorGate{{Tags: []string{"upgrade-gate:true"}, Teams: []string{"payments"}}}
	})
	others := datadogV1.NewMonitor("avg(last_5m):avg:trace.http.request.errors{service:orders} > 10", datadogV1.MONITORTYPE_METRIC_ALERT)
	others.SetName("orders burn rate (staging)")
	others.SetTags([]string{"cluster:staging", "upgrade-gate:true", "team:orders", datadog.TagManaged})
	othersMonitor, err := dd.CreateMonitor(ctx, *others)
	Must(t, err)
	fake.SetMonitorState(othersMonitor.GetId(), "Alert")
	gate := datadogV1.NewMonitor("avg(last_5m):avg:postgres.replication.delay{env:staging} > 30", datadogV1.MONITORTYPE_METRIC_ALERT)
	gate.SetName("staging replication delay")
	gate.SetTags([]string{"cluster:staging", "upgrade-gate:true"})
	gateMonitor, err := dd.CreateMonitor(ctx, *gate)
	Must(t, err)
	poke(t, "follows-staging")
	waitAllowed(t, "follows-staging", metav1.ConditionTrue, platformv1alpha1.ReasonInsideWindow)
	fake.SetMonitorState(gateMonitor.GetId(), "Alert")
	p = held(platformv1alpha1.ReasonUpstreamBudgetLow, "staging's gate monitor alerts", func(u platformv1alpha1.UpstreamStatus) bool {
		return strings.Contains(u.Message, "staging replication delay") && !strings.Contains(u.Message, "orders")
	})
	restarted := movedTo(49 + 72 + 24)
	fake.SetMonitorState(gateMonitor.GetId(), "OK")
	p = held(platformv1alpha1.ReasonUpstreamSoaking, "the soak starts again after the alert", func(u platformv1alpha1.UpstreamStatus) bool {
		return u.SoakStart != nil && u.SoakStart.Time.Equal(restarted)
	})

	// GKE cannot be read: fail closed, and say so.
	gkeFake.FailWith(503)
	t.Cleanup(func() { gkeFake.FailWith(0) })
	p = held(platformv1alpha1.ReasonUpstreamSoaking, "GKE away", func(u platformv1alpha1.UpstreamStatus) bool {
		return strings.Contains(u.Message, "cannot be read")
	})
	if u := upstreamOf(p, "staging"); u.Soaked {
		t.Errorf("GKE away: %+v", u)
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, platformv1alpha1.ConditionGatesEvaluated); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("GatesEvaluated %+v, want False while staging cannot be read", c)
	}
	gkeFake.FailWith(0)
}
