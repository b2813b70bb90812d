package upgradepolicy_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	container "google.golang.org/api/container/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	"github.com/selfserve-dev/selfserve/test/gkefake"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

var (
	cp      *controlplane.ControlPlane
	admin   client.Client
	clock   = &fakeClock{now: mustTime("2026-11-30T06:00:00Z")} // a Monday
	fake    = datadogfake.New(datadogfake.Options{})
	gkeFake = gkefake.New(
		gke.ClusterName("acme-prod-4711", "europe-west1", "shared-prod"),
		gke.ClusterName("acme-prod-4711", "europe-west1", "tiny"),
	)
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

var fakeServerURL string

// spec checks every request against Datadog's OpenAPI specification; nil where the reference
// copy is not beside the checkout.
var spec *datadogfake.SpecValidator

func fakeURL(t *testing.T) string {
	t.Helper()
	if fakeServerURL == "" {
		t.Fatal("the Datadog fake is not running")
	}
	return fakeServerURL
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestMain runs a control plane and the operator with an injected clock, so window boundaries
// can be crossed without waiting for them.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	// Every request the operator sends (gates' reads, downtimes) is checked against Datadog's
	// specification where the team's reference copy is beside the checkout.
	srv, checked, err := datadogfake.StartChecked(fake)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	spec = checked
	defer srv.Close()
	fakeServerURL = srv.URL
	gkeSrv := gkeFake.Start()
	defer gkeSrv.Close()
	env, err := controlplane.StartEnv(context.Background(), controlplane.Options{}, func(o *operator.Options) {
		o.EnableWebhooks = false
		o.Clock = clock.Now
		// Monitor gates read the Datadog fake; so does the ServiceSLO controller, whose error
		// budgets the budget gate reads, polled every second.
		o.DatadogOverride = &datadog.Settings{URL: srv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}
		o.DatadogPoll = time.Second
		o.GKEEndpoint = gkeSrv.URL + "/"
		o.GKETimeout = time.Second
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	cp, admin = env.CP, env.Admin
	return m.Run()
}

// poke makes the operator evaluate the policy again now (as the requeue at the boundary would,
// had the test waited for it).
func poke(t *testing.T, name string) {
	t.Helper()
	updatePolicy(t, name, func(p *platformv1alpha1.ClusterUpgradePolicy) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations["test/poke"] = time.Now().Format(time.RFC3339Nano)
	})
}

// updatePolicy changes a policy's spec, reading it afresh and retrying when the operator's
// status write got in between.
func updatePolicy(t *testing.T, name string, change func(*platformv1alpha1.ClusterUpgradePolicy)) {
	t.Helper()
	Eventually(t, 10*time.Second, "policy "+name+" is updated", func() bool {
		var p platformv1alpha1.ClusterUpgradePolicy
		Must(t, admin.Get(context.Background(), client.ObjectKey{Name: name}, &p))
		change(&p)
		return admin.Update(context.Background(), &p) == nil
	})
}

func waitAllowed(t *testing.T, name string, status metav1.ConditionStatus, reason string) *platformv1alpha1.ClusterUpgradePolicy {
	t.Helper()
	p := &platformv1alpha1.ClusterUpgradePolicy{}
	Eventually(t, 20*time.Second, fmt.Sprintf("UpgradeAllowed=%s/%s", status, reason), func() bool {
		Must(t, admin.Get(context.Background(), client.ObjectKey{Name: name}, p))
		c := meta.FindStatusCondition(p.Status.Conditions, platformv1alpha1.ConditionUpgradeAllowed)
		return c != nil && c.Status == status && c.Reason == reason
	})
	return p
}

func TestUpgradePolicyFollowsWindowsSuspensionAndErrorBudgets(t *testing.T) {
	ctx := context.Background()
	policy := &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "production"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "tuesday", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday"}, Start: "06:00", Duration: "4h", TimeZone: "Europe/Berlin"}},
			Gates: &platformv1alpha1.Gates{ErrorBudget: []platformv1alpha1.ErrorBudgetGate{{
				Teams:    []string{"payments"},
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "critical"}}, Timeframe: "30d", MinRemainingPercent: 10,
			}}},
		},
	}
	Must(t, admin.Create(ctx, policy))

	// Monday: outside the window, with the next one named and the next evaluation at its start.
	p := waitAllowed(t, "production", metav1.ConditionFalse, platformv1alpha1.ReasonOutsideWindow)
	if p.Status.NextWindow == nil || !p.Status.NextWindow.Start.Time.Equal(mustTime("2026-12-01T05:00:00Z")) {
		t.Errorf("next window %+v, want Tuesday 06:00 Berlin (05:00 UTC)", p.Status.NextWindow)
	}
	if p.Status.NextEvaluation == nil || !p.Status.NextEvaluation.Time.Equal(mustTime("2026-12-01T05:00:00Z")) {
		t.Errorf("next evaluation %v, want the window's start", p.Status.NextEvaluation)
	}
	if p.Status.ClusterVersion != controlplane.Version {
		t.Errorf("cluster version %q, want %s", p.Status.ClusterVersion, controlplane.Version)
	}
	if !meta.IsStatusConditionTrue(p.Status.Conditions, platformv1alpha1.ConditionReady) {
		t.Errorf("Ready is not True: %v", p.Status.Conditions)
	}

	// Tuesday 07:00 Berlin: inside.
	clock.Set(mustTime("2026-12-01T06:00:00Z"))
	poke(t, "production")
	p = waitAllowed(t, "production", metav1.ConditionTrue, platformv1alpha1.ReasonInsideWindow)
	if p.Status.CurrentWindow == nil || p.Status.CurrentWindow.End == nil || !p.Status.CurrentWindow.End.Time.Equal(mustTime("2026-12-01T09:00:00Z")) {
		t.Errorf("current window %+v", p.Status.CurrentWindow)
	}

	t.Run("node kubelet versions are counted", func(t *testing.T) {
		for i, v := range []string{"v1.36.4", "v1.37.2", "v1.37.2"} {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)}}
			Must(t, admin.Create(ctx, n))
			n.Status.NodeInfo.KubeletVersion = v
			Must(t, admin.Status().Update(ctx, n))
		}
		poke(t, "production")
		Eventually(t, 20*time.Second, "status.nodeVersions counts 1 old and 2 current kubelets", func() bool {
			Must(t, admin.Get(ctx, client.ObjectKey{Name: "production"}, p))
			nv := p.Status.NodeVersions
			return len(nv) == 2 && nv[0] == (platformv1alpha1.NodeVersion{Version: "v1.36.4", Nodes: 1}) && nv[1] == (platformv1alpha1.NodeVersion{Version: "v1.37.2", Nodes: 2})
		})
	})

	t.Run("kubectl wait works for pipelines", func(t *testing.T) {
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		data, err := cp.Kubeconfig("pipeline", "system:masters")
		Must(t, err)
		Must(t, os.WriteFile(kubeconfig, data, 0o600))
		out, err := exec.Command(cp.Kubectl(), "--kubeconfig", kubeconfig, "wait", "--for=condition=UpgradeAllowed",
			"clusterupgradepolicy/production", "--timeout=10s").CombinedOutput()
		if err != nil {
			t.Errorf("kubectl wait: %v\n%s", err, out)
		}
	})

	t.Run("a critical SLO of the gate's team low on budget holds upgrades back, another team's does not", func(t *testing.T) {
		// The labels the operator puts on a tenant namespace: managed, of the requester's Team.
		tenantNamespace := func(name, team string) {
			Must(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue, platformv1alpha1.LabelTeam: team}}}))
		}
		tenantNamespace("checkout", "payments")
		tenantNamespace("orders-app", "orders")
		// Datadog measures a low budget; the ServiceSLO controller reports it in the status
		// (a budget written into the status by hand raced the controller's own first status
		// write, which could put back an empty list).
		lowBudget := func(namespace string) string {
			slo := &platformv1alpha1.ServiceSLO{
				ObjectMeta: metav1.ObjectMeta{Name: "availability", Namespace: namespace, Labels: map[string]string{"tier": "critical"}},
				Spec: platformv1alpha1.ServiceSLOSpec{Service: "checkout",
					Indicator: platformv1alpha1.Indicator{Metric: &platformv1alpha1.MetricIndicator{
						Good: "sum:requests.ok{service:checkout}.as_count()", Total: "sum:requests{service:checkout}.as_count()"}},
					Objectives: []platformv1alpha1.Objective{{Timeframe: "30d", Target: "99.9"}}},
			}
			Must(t, admin.Create(ctx, slo))
			Eventually(t, 30*time.Second, "the SLO is created in Datadog", func() bool {
				Must(t, admin.Get(ctx, client.ObjectKeyFromObject(slo), slo))
				return slo.Status.SLOID != ""
			})
			if !fake.SetSLOStatus(slo.Status.SLOID, "30d", datadogfake.SLOStatus{SLI: 99.9032, ErrorBudgetRemaining: 3.2, State: "warning"}) {
				t.Fatalf("SLO %s is not in the Datadog fake", slo.Status.SLOID)
			}
			return slo.Status.SLOID
		}
		// A developer of the orders team labels their own SLO "tier: critical" and burns its budget.
		lowBudget("orders-app")
		checkout := lowBudget("checkout")
		p := waitAllowed(t, "production", metav1.ConditionFalse, platformv1alpha1.ReasonErrorBudgetLow)
		if len(p.Status.Blockers) != 1 || p.Status.Blockers[0].Name != "availability" || p.Status.Blockers[0].Namespace != "checkout" {
			t.Errorf("blockers %+v, want only checkout's SLO: the orders team is not in the gate", p.Status.Blockers)
		}
		// The budget recovers: the gate opens again without anyone touching the policy.
		fake.SetSLOStatus(checkout, "30d", datadogfake.SLOStatus{SLI: 99.955, ErrorBudgetRemaining: 55, State: "ok"})
		waitAllowed(t, "production", metav1.ConditionTrue, platformv1alpha1.ReasonInsideWindow)
	})

	t.Run("suspend holds everything", func(t *testing.T) {
		updatePolicy(t, "production", func(p *platformv1alpha1.ClusterUpgradePolicy) { p.Spec.Suspend = true })
		waitAllowed(t, "production", metav1.ConditionFalse, platformv1alpha1.ReasonSuspended)
	})
}

func TestMonitorGateThroughDatadog(t *testing.T) {
	ctx := context.Background()
	clock.Set(mustTime("2026-12-01T06:00:00Z")) // inside Tuesday's window
	dd := datadog.NewClient(datadog.Settings{URL: fakeURL(t), APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}, datadog.NewPacer())
	m := datadogV1.NewMonitor("avg(last_5m):avg:postgres.replication.delay{env:prod} > 30", datadogV1.MONITORTYPE_METRIC_ALERT)
	m.SetName("replication delay")
	m.SetTags([]string{"upgrade-gate:true", "team:data"})
	created, err := dd.CreateMonitor(ctx, *m)
	Must(t, err)
	// A monitor selfserve made for another team's ServiceSLO that its developers tagged
	// upgrade-gate:true; it alerts from the start.
	tenants := datadogV1.NewMonitor("avg(last_5m):avg:trace.http.request.errors{service:orders} > 10", datadogV1.MONITORTYPE_METRIC_ALERT)
	tenants.SetName("orders burn rate")
	tenants.SetTags([]string{"upgrade-gate:true", "team:orders", datadog.TagManaged})
	tenantsMonitor, err := dd.CreateMonitor(ctx, *tenants)
	Must(t, err)
	fake.SetMonitorState(tenantsMonitor.GetId(), "Alert")
	Must(t, admin.Create(ctx, &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "staging"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "tuesday", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday"}, Start: "06:00", Duration: "4h", TimeZone: "Europe/Berlin"}},
			Gates:              &platformv1alpha1.Gates{Monitors: []platformv1alpha1.MonitorGate{{Teams: []string{"payments"}, Tags: []string{"upgrade-gate:true"}, Scope: platformv1alpha1.ScopeNoUpgrades}}},
		},
	}))
	waitAllowed(t, "staging", metav1.ConditionTrue, platformv1alpha1.ReasonInsideWindow)

	fake.SetMonitorState(created.GetId(), "Alert")
	poke(t, "staging") // what the gate poll would do
	p := waitAllowed(t, "staging", metav1.ConditionFalse, platformv1alpha1.ReasonMonitorAlerting)
	if len(p.Status.Blockers) != 1 || p.Status.Blockers[0].ID != created.GetId() || p.Status.Blockers[0].Name != "replication delay" {
		t.Errorf("blockers %+v", p.Status.Blockers)
	}
	fake.SetMonitorState(created.GetId(), "OK")
	poke(t, "staging")
	waitAllowed(t, "staging", metav1.ConditionTrue, platformv1alpha1.ReasonInsideWindow)
}

func TestGKESyncFollowsThePolicy(t *testing.T) {
	ctx := context.Background()
	clock.Set(mustTime("2026-11-30T06:00:00Z"))
	name := gke.ClusterName("acme-prod-4711", "europe-west1", "shared-prod")
	policy := &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "gke-prod"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "mornings", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday", "Wednesday", "Thursday"}, Start: "05:00", Duration: "4h", TimeZone: "Europe/Berlin"}},
			Provider:           &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: "shared-prod"}},
		},
	}
	Must(t, admin.Create(ctx, policy))
	Eventually(t, 20*time.Second, "the policy is synced", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(policy), policy))
		return policy.Status.Provider != nil && policy.Status.Provider.State == "Synced"
	})
	got := gkeFake.Policy(name)
	if got.Window == nil || got.Window.RecurringWindow.Recurrence != "FREQ=WEEKLY;BYDAY=TH,TU,WE" || got.Window.RecurringWindow.Window.StartTime != "2026-12-01T04:00:00Z" {
		t.Fatalf("GKE window %+v", got.Window)
	}

	// Suspended: GKE holds upgrades back too, with the gate exclusion.
	updatePolicy(t, "gke-prod", func(p *platformv1alpha1.ClusterUpgradePolicy) { p.Spec.Suspend = true })
	Eventually(t, 20*time.Second, "the gate exclusion is in GKE", func() bool {
		p := gkeFake.Policy(name)
		e, ok := p.Window.MaintenanceExclusions[gke.GateExclusionName]
		return ok && e.MaintenanceExclusionOptions.Scope == "NO_UPGRADES"
	})
	updatePolicy(t, "gke-prod", func(p *platformv1alpha1.ClusterUpgradePolicy) { p.Spec.Suspend = false })
	Eventually(t, 20*time.Second, "the gate exclusion is gone", func() bool {
		_, ok := gkeFake.Policy(name).Window.MaintenanceExclusions[gke.GateExclusionName]
		return !ok
	})

	// Too little availability for GKE: reported, not sent.
	tiny := &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "gke-tiny"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "brief", DaysOfWeek: []platformv1alpha1.Weekday{"Sunday"}, Start: "03:00", Duration: "2h", TimeZone: "UTC"}},
			Provider:           &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: "tiny"}},
		},
	}
	Must(t, admin.Create(ctx, tiny))
	Eventually(t, 20*time.Second, "the violation is reported", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(tiny), tiny))
		return tiny.Status.Provider != nil && tiny.Status.Provider.State == "Invalid" &&
			strings.Contains(tiny.Status.Provider.Message, "at least 48h0m0s")
	})
	if p := gkeFake.Policy(gke.ClusterName("acme-prod-4711", "europe-west1", "tiny")); p.Window != nil {
		t.Errorf("an invalid policy reached GKE: %+v", p.Window)
	}
}

func TestFreezeHoldsUpgradesAndTheGaugeFollows(t *testing.T) {
	ctx := context.Background()
	clock.Set(mustTime("2026-12-22T06:00:00Z")) // a Tuesday, inside the window, in the freeze
	Must(t, admin.Create(ctx, &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "frozen"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "tuesday", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday"}, Start: "06:00", Duration: "4h", TimeZone: "Europe/Berlin"}},
			Exclusions: []platformv1alpha1.Exclusion{{Name: "year-end",
				Start: metav1.NewTime(mustTime("2026-12-18T00:00:00Z")), End: metav1.NewTime(mustTime("2027-01-04T00:00:00Z")), Scope: platformv1alpha1.ScopeNoMinorUpgrades}},
		},
	}))
	p := waitAllowed(t, "frozen", metav1.ConditionFalse, platformv1alpha1.ReasonExcluded)
	c := meta.FindStatusCondition(p.Status.Conditions, platformv1alpha1.ConditionUpgradeAllowed)
	if !strings.Contains(c.Message, "year-end") || !strings.Contains(c.Message, "control plane patches may still start") {
		t.Errorf("message %q", c.Message)
	}
	if len(p.Status.ActiveExclusions) != 1 || p.Status.ActiveExclusions[0].Name != "year-end" {
		t.Errorf("active exclusions %+v", p.Status.ActiveExclusions)
	}
	if g := gauge(t, "frozen"); g != 0 {
		t.Errorf("selfserve_upgrade_allowed = %v during the freeze, want 0", g)
	}

	// The first Tuesday after the freeze.
	clock.Set(mustTime("2027-01-05T06:00:00Z"))
	poke(t, "frozen")
	waitAllowed(t, "frozen", metav1.ConditionTrue, platformv1alpha1.ReasonInsideWindow)
	if g := gauge(t, "frozen"); g != 1 {
		t.Errorf("selfserve_upgrade_allowed = %v after the freeze, want 1", g)
	}
	// Each change of the answer is an Event whose reason is the condition's.
	Eventually(t, 20*time.Second, "Excluded and InsideWindow events for the policy", func() bool {
		var list eventsv1.EventList
		Must(t, admin.List(ctx, &list))
		seen := map[string]bool{}
		for _, e := range list.Items {
			if e.Regarding.Name == "frozen" {
				seen[e.Reason] = true
			}
		}
		return seen[platformv1alpha1.ReasonExcluded] && seen[platformv1alpha1.ReasonInsideWindow]
	})
}

// gauge reads selfserve_upgrade_allowed for a policy from the in-process registry.
func gauge(t *testing.T, policy string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	Must(t, err)
	for _, f := range families {
		if f.GetName() != "selfserve_upgrade_allowed" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "policy" && l.GetValue() == policy {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no selfserve_upgrade_allowed for %s", policy)
	return 0
}

// TestGKEFailureIsVisibleAndRetried: while GKE fails — an outage (503), a missing role (403),
// a quota (429 with Retry-After), no answer within the time-out — the policy says so
// (ProviderSynced False, Ready False, kstatus not Current) and keeps answering UpgradeAllowed; it
// is retried with backoff, not at the next window edge, and recovers by itself once GKE answers.
func TestGKEFailureIsVisibleAndRetried(t *testing.T) {
	ctx := context.Background()
	clock.Set(mustTime("2026-11-30T06:00:00Z"))
	for i, failure := range []struct {
		name          string
		start, finish func()
	}{
		{"outage", func() { gkeFake.FailWith(http.StatusServiceUnavailable) }, func() { gkeFake.FailWith(0) }},
		{"forbidden", func() { gkeFake.FailWith(http.StatusForbidden) }, func() { gkeFake.FailWith(0) }},
		{"quota", func() { gkeFake.FailWith(http.StatusTooManyRequests) }, func() { gkeFake.FailWith(0) }},
		{"no answer", func() { gkeFake.HangFor(3 * time.Second) }, func() { gkeFake.HangFor(0) }},
	} {
		t.Run(failure.name, func(t *testing.T) {
			failure.start()
			defer failure.finish()
			cluster := fmt.Sprintf("outage-%d", i)
			gkeFake.AddCluster(gke.ClusterName("acme-prod-4711", "europe-west1", cluster))
			policy := &platformv1alpha1.ClusterUpgradePolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "gke-" + cluster},
				Spec: platformv1alpha1.ClusterUpgradePolicySpec{
					MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "mornings", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday", "Wednesday", "Thursday"}, Start: "05:00", Duration: "4h", TimeZone: "Europe/Berlin"}},
					Provider:           &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: cluster}},
				},
			}
			Must(t, admin.Create(ctx, policy))
			Eventually(t, 20*time.Second, "the failed sync is reported", func() bool {
				Must(t, admin.Get(ctx, client.ObjectKeyFromObject(policy), policy))
				c := meta.FindStatusCondition(policy.Status.Conditions, platformv1alpha1.ConditionProviderSynced)
				return c != nil && c.Status == metav1.ConditionFalse && c.Reason == platformv1alpha1.ReasonSyncFailed
			})
			if meta.IsStatusConditionTrue(policy.Status.Conditions, platformv1alpha1.ConditionReady) {
				t.Error("Ready is True while GKE cannot be synced")
			}
			if c := meta.FindStatusCondition(policy.Status.Conditions, platformv1alpha1.ConditionUpgradeAllowed); c == nil || c.Reason != platformv1alpha1.ReasonOutsideWindow {
				t.Errorf("UpgradeAllowed %+v, want the policy's own answer (OutsideWindow) while GKE fails", c)
			}
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(policy)
			Must(t, err)
			if res, err := status.Compute(&unstructured.Unstructured{Object: u}); err != nil || res.Status == status.CurrentStatus {
				t.Errorf("kstatus %v (%v) while GKE fails; Argo CD and Flux must not see it healthy", res, err)
			}
			// GKE recovers: the backoff retries bring the policy back without anyone touching it
			// (the next window edge is a day away on the test's clock).
			failure.finish()
			Eventually(t, 60*time.Second, "the policy is synced and Ready again", func() bool {
				Must(t, admin.Get(ctx, client.ObjectKeyFromObject(policy), policy))
				return meta.IsStatusConditionTrue(policy.Status.Conditions, platformv1alpha1.ConditionProviderSynced) &&
					meta.IsStatusConditionTrue(policy.Status.Conditions, platformv1alpha1.ConditionReady)
			})
			if got := gkeFake.Policy(gke.ClusterName("acme-prod-4711", "europe-west1", cluster)); got.Window == nil {
				t.Error("GKE holds no window after the recovery")
			}
		})
	}
}

// TestGateHoldNeverLapses steps a week on the clock, evaluation by evaluation, with a policy
// whose gate holds upgrades back (it is suspended) and a weekly window: at every instant the
// operator next wakes up on its own, GKE still holds the exclusion.
func TestGateHoldNeverLapses(t *testing.T) {
	ctx := context.Background()
	start := mustTime("2026-11-30T06:00:00Z")
	clock.Set(start)
	name := gke.ClusterName("acme-prod-4711", "europe-west1", "held")
	gkeFake.AddCluster(name)
	Must(t, admin.Create(ctx, &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "held"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			Suspend:            true,
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "weekly", DaysOfWeek: []platformv1alpha1.Weekday{"Saturday"}, Start: "02:00", Duration: "16h", TimeZone: "Europe/Berlin"}},
			Provider:           &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: "held"}},
		},
	}))
	var p platformv1alpha1.ClusterUpgradePolicy
	evaluatedAt := func(now time.Time) {
		Eventually(t, 20*time.Second, "the policy is evaluated at "+now.Format(time.RFC3339), func() bool {
			Must(t, admin.Get(ctx, client.ObjectKey{Name: "held"}, &p))
			return p.Status.NextEvaluation != nil && p.Status.NextEvaluation.After(now) &&
				meta.IsStatusConditionTrue(p.Status.Conditions, platformv1alpha1.ConditionProviderSynced)
		})
	}
	evaluatedAt(start)
	for steps := 0; clock.Now().Before(start.Add(7 * 24 * time.Hour)); steps++ {
		next := p.Status.NextEvaluation.Time
		e, ok := gkeFake.Policy(name).Window.MaintenanceExclusions[gke.GateExclusionName]
		if !ok {
			t.Fatalf("at %s GKE holds no gate exclusion", clock.Now().Format(time.RFC3339))
		}
		end, err := time.Parse(time.RFC3339, e.EndTime)
		Must(t, err)
		if !end.After(next) {
			t.Fatalf("at %s the hold ends %s, before the operator's next evaluation %s", clock.Now().Format(time.RFC3339), e.EndTime, next.Format(time.RFC3339))
		}
		if next.Sub(clock.Now()) > 25*time.Hour {
			t.Errorf("at %s the next evaluation is %s away; the hold must be renewed daily", clock.Now().Format(time.RFC3339), next.Sub(clock.Now()))
		}
		if steps > 40 {
			t.Fatal("more than 40 evaluations in a week")
		}
		// What the requeue does at that instant.
		clock.Set(next.Add(time.Second))
		poke(t, "held")
		evaluatedAt(clock.Now())
	}
}

// TestExclusionsMadeOutsideSelfserveSurviveTenSyncs: an on-call SRE set an emergency freeze on
// the cluster with gcloud. Ten syncs that each change the policy in GKE (the window's length,
// the gate's hold on and off) keep it, and the status names it.
func TestExclusionsMadeOutsideSelfserveSurviveTenSyncs(t *testing.T) {
	ctx := context.Background()
	clock.Set(mustTime("2026-11-30T06:00:00Z"))
	name := gke.ClusterName("acme-prod-4711", "europe-west1", "oncall")
	gkeFake.AddCluster(name)
	freeze := container.TimeWindow{StartTime: "2026-11-30T00:00:00Z", EndTime: "2026-12-10T00:00:00Z",
		MaintenanceExclusionOptions: &container.MaintenanceExclusionOptions{Scope: "NO_UPGRADES"}}
	gkeFake.SetPolicy(name, &container.MaintenancePolicy{Window: &container.MaintenanceWindow{
		MaintenanceExclusions: map[string]container.TimeWindow{"oncall-freeze": freeze}}})
	// Counted before the create: the operator may sync the new policy before the next line.
	_, setsBefore := gkeFake.Calls()
	Must(t, admin.Create(ctx, &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "oncall"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "nights", DaysOfWeek: []platformv1alpha1.Weekday{"Monday", "Wednesday", "Friday"}, Start: "01:00", Duration: "4h", TimeZone: "Europe/Berlin"}},
			Exclusions: []platformv1alpha1.Exclusion{{Name: "year-end", Start: metav1.NewTime(mustTime("2026-12-18T00:00:00Z")),
				End: metav1.NewTime(mustTime("2027-01-04T00:00:00Z")), Scope: platformv1alpha1.ScopeNoMinorUpgrades}},
			Provider: &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: "oncall"}},
		},
	}))
	t.Cleanup(func() {
		_ = admin.Delete(ctx, &platformv1alpha1.ClusterUpgradePolicy{ObjectMeta: metav1.ObjectMeta{Name: "oncall"}})
	})
	for i := range 10 {
		if i > 0 {
			updatePolicy(t, "oncall", func(p *platformv1alpha1.ClusterUpgradePolicy) {
				p.Spec.MaintenanceWindows[0].Duration = fmt.Sprintf("%dh", 4+i)
				p.Spec.Suspend = i%2 == 1
			})
		}
		var p platformv1alpha1.ClusterUpgradePolicy
		Eventually(t, 20*time.Second, fmt.Sprintf("sync %d", i+1), func() bool {
			Must(t, admin.Get(ctx, client.ObjectKey{Name: "oncall"}, &p))
			return p.Status.ObservedGeneration == p.Generation && p.Status.Provider != nil && p.Status.Provider.State == "Synced"
		})
		got := gkeFake.Policy(name).Window.MaintenanceExclusions
		if e, ok := got["oncall-freeze"]; !ok || e.EndTime != freeze.EndTime || e.MaintenanceExclusionOptions.Scope != "NO_UPGRADES" {
			t.Fatalf("after sync %d GKE holds %v: the SRE's freeze is gone", i+1, got)
		}
		if _, ok := got[gke.ExclusionName("year-end")]; !ok {
			t.Fatalf("after sync %d GKE holds %v: the policy's exclusion is missing", i+1, got)
		}
		if fmt.Sprint(p.Status.Provider.ForeignExclusions) != "[oncall-freeze]" || !strings.Contains(p.Status.Provider.Message, "oncall-freeze") {
			t.Errorf("after sync %d status.provider %+v does not name the SRE's freeze", i+1, p.Status.Provider)
		}
	}
	if _, sets := gkeFake.Calls(); sets-setsBefore < 10 {
		t.Errorf("%d policies set in GKE, want one per sync (10)", sets-setsBefore)
	}
}
