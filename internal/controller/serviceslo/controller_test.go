package serviceslo_test

import (
	"context"
	"fmt"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

var (
	cp    *controlplane.ControlPlane
	admin client.Client
	fake  *datadogfake.Server
	srv   *httptest.Server
	// spec checks every request against Datadog's OpenAPI specification, where the team's
	// reference copy is beside the checkout; nil otherwise.
	spec *datadogfake.SpecValidator
)

// TestMain runs a control plane and the Datadog fake for the package; each test starts the
// operator it needs (with or without credentials, or restarted to simulate a crash).
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	cp, err = controlplane.Start(controlplane.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cp.Stop() }()
	fake = datadogfake.New(datadogfake.Options{})
	if srv, spec, err = datadogfake.StartChecked(fake); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	admin, err = cp.Client()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// startOperator runs the operator against the fake (or, with no keys, unconfigured), polling
// Datadog every poll, until the test ends.
func startOperator(t *testing.T, configured bool, poll time.Duration) *controlplane.Operator {
	t.Helper()
	// A create without an answer settles 6 s after it was sent, not 90 s, so the tests that
	// lose answers wait seconds.
	s := datadog.Settings{Site: datadog.DefaultSite, URL: srv.URL, Timeout: 5 * time.Second, Settle: time.Second}
	if configured {
		s.APIKey, s.AppKey = datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey
	}
	return runOperator(t, poll, s)
}

// runOperator runs the operator with these Datadog settings until the test ends.
func runOperator(t *testing.T, poll time.Duration, s datadog.Settings) *controlplane.Operator {
	t.Helper()
	opts := controlplane.TestOptions()
	opts.EnableWebhooks = false
	opts.DatadogPoll = poll
	opts.DatadogOverride = &s
	op, err := cp.StartOperator(ctrl.LoggerInto(context.Background(), ctrl.Log), opts)
	Must(t, err)
	t.Cleanup(func() { _ = op.Stop() })
	return op
}

// tenantNamespace creates a tenant (and the class it needs) and waits for its namespace.
func tenantNamespace(t *testing.T, name, team string) {
	t.Helper()
	ctx := context.Background()
	class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}}
	if err := admin.Create(ctx, class); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	Must(t, CreateTeams(ctx, admin, []string{team}, class.Name))
	Must(t, admin.Create(ctx, &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       platformv1alpha1.TenantNamespaceSpec{Team: team, Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: team}}},
	}))
	Eventually(t, 30*time.Second, "tenant "+name+" is Ready", func() bool {
		var tn platformv1alpha1.TenantNamespace
		return admin.Get(ctx, client.ObjectKey{Name: name}, &tn) == nil && meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady)
	})
}

func newSLO(namespace, name string) *platformv1alpha1.ServiceSLO {
	return &platformv1alpha1.ServiceSLO{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: platformv1alpha1.ServiceSLOSpec{
			Service: "checkout",
			Indicator: platformv1alpha1.Indicator{Metric: &platformv1alpha1.MetricIndicator{
				Good: "sum:requests.ok{service:checkout}.as_count()", Total: "sum:requests{service:checkout}.as_count()"}},
			Objectives: []platformv1alpha1.Objective{{Timeframe: "30d", Target: "99.9"}},
			Alerting:   &platformv1alpha1.Alerting{Notify: []string{"@pagerduty-payments"}},
			Tags:       []string{"env:prod"},
		},
	}
}

func waitSynced(t *testing.T, s *platformv1alpha1.ServiceSLO) *platformv1alpha1.ServiceSLO {
	t.Helper()
	got := &platformv1alpha1.ServiceSLO{}
	Eventually(t, 30*time.Second, "ServiceSLO "+s.Name+" is Ready", func() bool {
		if err := admin.Get(context.Background(), client.ObjectKeyFromObject(s), got); err != nil {
			return false
		}
		return meta.IsStatusConditionTrue(got.Status.Conditions, platformv1alpha1.ConditionReady) && got.Status.ObservedGeneration == got.Generation
	})
	return got
}

// objectsOf returns the fake's SLOs and monitors that carry a CR's UID tag.
func objectsOf(uid string) (slos []map[string]any, monitors []map[string]any) {
	return fake.Tagged(datadog.TagUIDPrefix + uid)
}

func TestServiceSLOLifecycle(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Second)
	tenantNamespace(t, "payments", "payments")
	fake.ResetRequests()

	slo := newSLO("payments", "checkout-availability")
	Must(t, admin.Create(ctx, slo))
	got := waitSynced(t, slo)

	t.Run("created with the right queries, thresholds and tags", func(t *testing.T) {
		slos, monitors := objectsOf(string(got.UID))
		if len(slos) != 1 || len(monitors) != 3 {
			t.Fatalf("%d SLOs and %d monitors carry the CR's tag, want 1 and 3", len(slos), len(monitors))
		}
		s := slos[0]
		if s["id"] != got.Status.SLOID {
			t.Errorf("status.sloID %s, Datadog has %v", got.Status.SLOID, s["id"])
		}
		for _, tag := range []string{"team:payments", "service:checkout", "managed-by:selfserve", "env:prod"} {
			if !strings.Contains(fmt.Sprint(s["tags"]), tag) {
				t.Errorf("SLO tags %v lack %s", s["tags"], tag)
			}
		}
		ths := s["thresholds"].([]any)[0].(map[string]any)
		if ths["timeframe"] != "30d" || ths["target"] != 99.9 {
			t.Errorf("threshold %v", ths)
		}
		queries := map[string]bool{}
		for _, m := range monitors {
			queries[m["query"].(string)] = true
			if m["type"] != "slo alert" || !strings.Contains(m["message"].(string), "@pagerduty-payments") {
				t.Errorf("monitor %v", m)
			}
		}
		for _, want := range []string{
			`burn_rate("` + got.Status.SLOID + `").over("30d").long_window("1h").short_window("5m") > 14.4`,
			`burn_rate("` + got.Status.SLOID + `").over("30d").long_window("6h").short_window("30m") > 6`,
			`burn_rate("` + got.Status.SLOID + `").over("30d").long_window("24h").short_window("2h") > 3`,
		} {
			if !queries[want] {
				t.Errorf("no monitor with query %s (have %v)", want, queries)
			}
		}
		if len(got.Status.Monitors) != 3 {
			t.Errorf("status.monitors %v", got.Status.Monitors)
		}
		req := fake.Requests()
		if req["POST /api/v1/slo"] != 1 || req["POST /api/v1/monitor"] != 3 {
			t.Errorf("creates: %d SLO, %d monitor; want 1 and 3 (%v)", req["POST /api/v1/slo"], req["POST /api/v1/monitor"], req)
		}
		for route, n := range req {
			if strings.HasPrefix(route, "GET /api/v1/slo/{") || strings.HasPrefix(route, "GET /api/v1/monitor/{") {
				t.Errorf("%d per-object reads (%s); reads must be batched", n, route)
			}
		}
	})

	t.Run("an SLO that names no handle notifies its team's", func(t *testing.T) {
		Update(t, admin, &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}, func(team *platformv1alpha1.Team) {
			team.Spec.Notify = []string{"@slack-payments-alerts"}
		})
		quiet := newSLO("payments", "checkout-latency")
		quiet.Spec.Alerting.Notify = nil
		Must(t, admin.Create(ctx, quiet))
		quietGot := waitSynced(t, quiet)
		_, monitors := objectsOf(string(quietGot.UID))
		if len(monitors) != 3 {
			t.Fatalf("%d monitors, want 3", len(monitors))
		}
		for _, m := range monitors {
			if msg := m["message"].(string); !strings.Contains(msg, "@slack-payments-alerts") {
				t.Errorf("monitor message %q does not notify the team's handle", msg)
			}
		}
		// The SLO that names its own handle keeps it.
		_, own := objectsOf(string(got.UID))
		for _, m := range own {
			if msg := m["message"].(string); strings.Contains(msg, "@slack-payments-alerts") || !strings.Contains(msg, "@pagerduty-payments") {
				t.Errorf("monitor message %q, want only the SLO's own handle", msg)
			}
		}
		Must(t, admin.Delete(ctx, quiet))
	})

	t.Run("the error budget is reported", func(t *testing.T) {
		fake.SetSLOStatus(got.Status.SLOID, "30d", datadogfake.SLOStatus{SLI: 99.95, ErrorBudgetRemaining: 42.5, State: "ok"})
		Eventually(t, 15*time.Second, "status.errorBudget shows 42.50", func() bool {
			Must(t, admin.Get(ctx, client.ObjectKeyFromObject(slo), got))
			return len(got.Status.ErrorBudget) == 1 && got.Status.ErrorBudget[0].Remaining == "42.50" && got.Status.ErrorBudget[0].State == "ok"
		})
	})

	t.Run("a new target is one update", func(t *testing.T) {
		fake.ResetRequests()
		Update(t, admin, got, func(s *platformv1alpha1.ServiceSLO) { s.Spec.Objectives[0].Target = "99.5" })
		got = waitSynced(t, got)
		slos, _ := objectsOf(string(got.UID))
		if th := slos[0]["thresholds"].([]any)[0].(map[string]any); th["target"] != 99.5 {
			t.Errorf("target in Datadog %v", th["target"])
		}
		req := fake.Requests()
		writes := 0
		for route, n := range req {
			if !strings.HasPrefix(route, "GET") {
				writes += n
			}
		}
		if req["PUT /api/v1/slo/{id}"] != 1 || writes != 1 {
			t.Errorf("writes after a target change: %v; want exactly one SLO update", req)
		}
	})

	t.Run("deleted in Datadog: re-created", func(t *testing.T) {
		oldID := got.Status.SLOID
		_, monitors := objectsOf(string(got.UID))
		for _, m := range monitors {
			fake.DeleteMonitor(m["id"].(int64))
		}
		fake.DeleteSLO(oldID)
		Eventually(t, 20*time.Second, "a new SLO and monitors exist", func() bool {
			slos, monitors := objectsOf(string(got.UID))
			return len(slos) == 1 && slos[0]["id"] != oldID && len(monitors) == 3
		})
		got = waitSynced(t, got)
		if got.Status.SLOID == oldID {
			t.Error("status still names the deleted SLO")
		}
	})

	t.Run("edited in Datadog: reverted", func(t *testing.T) {
		_, monitors := objectsOf(string(got.UID))
		id := monitors[0]["id"].(int64)
		editMonitor(t, id, "someone changed this")
		Eventually(t, 20*time.Second, "the monitor name is restored", func() bool {
			_, monitors := objectsOf(string(got.UID))
			for _, m := range monitors {
				if m["id"] == id {
					return m["name"] != "someone changed this"
				}
			}
			return false
		})
	})

	t.Run("delete with policy Delete removes the monitors and the SLO", func(t *testing.T) {
		Must(t, admin.Delete(ctx, got))
		Eventually(t, 20*time.Second, "the CR is gone", func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(got), &platformv1alpha1.ServiceSLO{}))
		})
		if slos, monitors := objectsOf(string(got.UID)); len(slos)+len(monitors) != 0 {
			t.Errorf("%d SLOs and %d monitors left in Datadog", len(slos), len(monitors))
		}
	})

	t.Run("delete with policy Orphan leaves them", func(t *testing.T) {
		o := newSLO("payments", "orphaned")
		o.Spec.DeletionPolicy = platformv1alpha1.DeletionPolicyOrphan
		Must(t, admin.Create(ctx, o))
		o = waitSynced(t, o)
		Must(t, admin.Delete(ctx, o))
		Eventually(t, 20*time.Second, "the CR is gone", func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(o), &platformv1alpha1.ServiceSLO{}))
		})
		if slos, monitors := objectsOf(string(o.UID)); len(slos) != 1 || len(monitors) != 3 {
			t.Errorf("%d SLOs and %d monitors left, want 1 and 3", len(slos), len(monitors))
		}
	})
}

// editMonitor renames a monitor through the API, as a user in the Datadog UI would.
func editMonitor(t *testing.T, id int64, name string) {
	t.Helper()
	settings := datadog.Settings{URL: srv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}
	c := datadog.NewClient(settings, datadog.NewPacer())
	for _, m := range fake.Monitors() {
		if m["id"] == id {
			req := monitorRename(name)
			if _, err := c.UpdateMonitor(context.Background(), id, req); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("monitor %d not found", id)
}

func TestCrashBetweenCreateAndStatusAdoptsInsteadOfDuplicating(t *testing.T) {
	ctx := context.Background()
	op := startOperator(t, true, time.Hour)
	tenantNamespace(t, "orders", "orders")
	slo := newSLO("orders", "orders-latency")
	Must(t, admin.Create(ctx, slo))
	got := waitSynced(t, slo)
	Must(t, op.Stop())

	// The status write was lost: the CR knows no IDs. A fresh operator (empty memory) starts.
	got.Status.SLOID, got.Status.Monitors = "", nil
	Must(t, admin.Status().Update(ctx, got))
	startOperator(t, true, time.Hour)
	Eventually(t, 30*time.Second, "the status names the SLO again", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(slo), got))
		return got.Status.SLOID != "" && len(got.Status.Monitors) == 3
	})
	slos, monitors := objectsOf(string(got.UID))
	if len(slos) != 1 || len(monitors) != 3 {
		t.Errorf("after the restart Datadog holds %d SLOs and %d monitors for the CR, want 1 and 3", len(slos), len(monitors))
	}
}

func TestRateLimitStormAndServerErrorsConvergeWithoutDuplicates(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, 2*time.Second)
	tenantNamespace(t, "search", "search")
	fake.FailNext("POST /api/v1/slo", 500, 503)
	fake.FailNext("POST /api/v1/monitor", 502)
	fake.Throttle(6 * time.Second)
	var crs []*platformv1alpha1.ServiceSLO
	for i := range 5 {
		s := newSLO("search", fmt.Sprintf("storm-%d", i))
		Must(t, admin.Create(ctx, s))
		crs = append(crs, s)
	}
	// While the storm lasts, the conditions say so.
	Eventually(t, 5*time.Second, "a ServiceSLO reports the rate limit", func() bool {
		var got platformv1alpha1.ServiceSLO
		for _, s := range crs {
			if admin.Get(ctx, client.ObjectKeyFromObject(s), &got) == nil {
				if c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.ConditionSynced); c != nil && c.Reason == "DatadogRateLimited" {
					return true
				}
			}
		}
		return false
	})
	for _, s := range crs {
		got := waitSynced(t, s)
		slos, monitors := objectsOf(string(got.UID))
		if len(slos) != 1 || len(monitors) != 3 {
			t.Errorf("%s: %d SLOs and %d monitors, want 1 and 3", s.Name, len(slos), len(monitors))
		}
	}
}

func TestMissingCredentialsSayHowToConfigure(t *testing.T) {
	ctx := context.Background()
	startOperator(t, false, time.Hour)
	tenantNamespace(t, "nocreds", "nocreds")
	before := len(fake.SLOs())
	s := newSLO("nocreds", "waiting")
	Must(t, admin.Create(ctx, s))
	Eventually(t, 20*time.Second, "Ready=False DatadogNotConfigured", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(s), s))
		c := meta.FindStatusCondition(s.Status.Conditions, platformv1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "DatadogNotConfigured" &&
			regexp.MustCompile(`api-key and app-key`).MatchString(c.Message)
	})
	if len(fake.SLOs()) != before {
		t.Error("an SLO was created without credentials")
	}
	if !meta.IsStatusConditionTrue(s.Status.Conditions, platformv1alpha1.ConditionStalled) {
		t.Error("Stalled is not True while nobody configured Datadog")
	}
	// Unknown is said, not left out: the BUDGET column and the state metric read "unknown", and
	// the error budget list is there, empty.
	var u unstructured.Unstructured
	u.SetGroupVersionKind(platformv1alpha1.GroupVersion.WithKind("ServiceSLO"))
	Must(t, admin.Get(ctx, client.ObjectKeyFromObject(s), &u))
	list, found, _ := unstructured.NestedSlice(u.Object, "status", "errorBudget")
	if !found || len(list) != 0 || s.Status.Budget != "unknown" || s.Status.BudgetState != "unknown" {
		t.Errorf("before Datadog answers: errorBudget %v (present %v), budget %q, state %q", list, found, s.Status.Budget, s.Status.BudgetState)
	}
}

func monitorRename(name string) datadogV1.MonitorUpdateRequest {
	req := datadogV1.NewMonitorUpdateRequest()
	req.SetName(name)
	return *req
}

// TestStoredQueryDatadogWouldRefuseIsNotSent: a ServiceSLO whose query Datadog cannot parse,
// stored without the webhook (before the rule, or with the webhook bypassed), is reported with
// the field and stalls; nothing reaches Datadog until the spec changes.
func TestStoredQueryDatadogWouldRefuseIsNotSent(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Hour)
	tenantNamespace(t, "unparsable", "unparsable")
	s := newSLO("unparsable", "open-brace")
	s.Spec.Indicator.Metric.Total = "sum:requests{service:checkout.as_count()"
	Must(t, admin.Create(ctx, s))
	Eventually(t, 20*time.Second, "Synced=False InvalidSpec naming the field, and Stalled", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(s), s))
		c := meta.FindStatusCondition(s.Status.Conditions, platformv1alpha1.ConditionSynced)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "InvalidSpec" &&
			strings.Contains(c.Message, "spec.indicator.metric.total") && meta.IsStatusConditionTrue(s.Status.Conditions, platformv1alpha1.ConditionStalled)
	})
	if slos, _ := objectsOf(string(s.UID)); len(slos) != 0 {
		t.Errorf("an unparsable SLO reached Datadog: %v", slos)
	}
	s.Spec.Indicator.Metric.Total = "sum:requests{service:checkout}.as_count()"
	Must(t, admin.Update(ctx, s))
	waitSynced(t, s)
}

// TestServiceSLOsInNamespacesSREsLabelForATeamAreSynced: the SREs' own namespaces are not tenant
// namespaces (the operator's cache does not hold them); labelled platform.selfserve.dev/team they
// still give their ServiceSLOs that team, so an error-budget gate has their budget to read. An
// unlabelled namespace gives none, and says how to fix it.
func TestServiceSLOsInNamespacesSREsLabelForATeamAreSynced(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Second)
	Must(t, CreateTeams(ctx, admin, []string{"platform"}, "default"))
	Must(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sre-observability", Labels: map[string]string{platformv1alpha1.LabelTeam: "platform"}}}))
	Must(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sre-scratch"}}))

	slo := newSLO("sre-observability", "ingress-availability")
	Must(t, admin.Create(ctx, slo))
	got := waitSynced(t, slo)
	slos, monitors := objectsOf(string(got.UID))
	if len(slos) != 1 || len(monitors) == 0 || !strings.Contains(fmt.Sprint(slos[0]["tags"]), "team:platform") {
		t.Fatalf("Datadog holds %d SLOs (tags %v) and %d monitors for it, want one SLO of team platform and its monitors", len(slos), slos, len(monitors))
	}
	if got.Status.ErrorBudget == nil || got.Status.SLOID == "" {
		t.Errorf("status %+v: the gates read the budget from here", got.Status)
	}

	stray := newSLO("sre-scratch", "stray")
	Must(t, admin.Create(ctx, stray))
	Eventually(t, 30*time.Second, "the SLO in an unlabelled namespace says it has no team", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(stray), stray))
		c := meta.FindStatusCondition(stray.Status.Conditions, platformv1alpha1.ConditionSynced)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "NotInTenantNamespace" && strings.Contains(c.Message, platformv1alpha1.LabelTeam)
	})
	if s, _ := objectsOf(string(stray.UID)); len(s) != 0 {
		t.Errorf("an SLO without a team was sent to Datadog: %v", s)
	}
}
