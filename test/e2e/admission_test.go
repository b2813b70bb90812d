package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	"github.com/selfserve-dev/selfserve/test/gkefake"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// admissionSeed fixes the random specs of the property tests below, so a run is repeatable;
// change it to explore.
const admissionSeed = 20261201

// TestWhatAdmissionAcceptsTheServicesAccept is the property behind every admission rule of
// ServiceSLO and ClusterUpgradePolicy: random specs, valid and not, are created through the
// apiserver (schema and webhooks); every one admission accepts is then taken by the service
// behind it — Synced=True against the Datadog fake, ProviderSynced=True against the GKE fake,
// both of which refuse what their service refuses. A spec refused there but admitted here is a
// rule missing from admission.
func TestWhatAdmissionAcceptsTheServicesAccept(t *testing.T) {
	cp, err := controlplane.Start(controlplane.Options{Webhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { Must(t, cp.Stop()) }()
	dd := datadogfake.New(datadogfake.Options{})
	ddSrv := dd.Start()
	defer ddSrv.Close()
	gkeFake := gkefake.New()
	gkeSrv := gkeFake.Start()
	defer gkeSrv.Close()

	opts := controlplane.TestOptions()
	opts.EnableWebhooks = true
	opts.DatadogPoll = 2 * time.Second
	opts.DatadogOverride = &datadog.Settings{Site: datadog.DefaultSite, URL: ddSrv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}
	opts.GKEEndpoint = gkeSrv.URL + "/"
	ctx := context.Background()
	op, err := cp.StartOperator(ctx, opts)
	Must(t, err)
	defer func() { _ = op.Stop() }()
	admin, err := client.New(cp.Config, client.Options{Scheme: op.Manager.GetScheme()})
	Must(t, err)

	Must(t, admin.Create(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}}))
	Must(t, admin.Create(ctx, Team("random", "default")))
	Must(t, admin.Create(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "random"},
		Spec: platformv1alpha1.TenantNamespaceSpec{Team: "random", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-random"}}}}))
	Eventually(t, time.Minute, "the tenant namespace is Ready", func() bool {
		var tn platformv1alpha1.TenantNamespace
		return admin.Get(ctx, client.ObjectKey{Name: "random"}, &tn) == nil && meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady)
	})

	rng := rand.New(rand.NewPCG(admissionSeed, admissionSeed))
	var slos, policies []client.Object
	for i := range 40 {
		s := randomServiceSLO(rng, fmt.Sprintf("rand-%02d", i))
		if admitted(t, admin.Create(ctx, s)) {
			slos = append(slos, s)
		}
		name := fmt.Sprintf("rand-%02d", i)
		gkeFake.AddCluster(gke.ClusterName("acme-prod-4711", "europe-west1", name))
		p := randomPolicy(rng, name, time.Now())
		if admitted(t, admin.Create(ctx, p)) {
			policies = append(policies, p)
		}
	}
	t.Logf("seed %d: %d of 40 ServiceSLOs and %d of 40 policies admitted", admissionSeed, len(slos), len(policies))
	for kind, n := range map[string]int{"ServiceSLOs": len(slos), "policies": len(policies)} {
		if n == 0 || n == 40 {
			t.Fatalf("%d of 40 %s admitted: the generator no longer mixes valid and invalid specs", n, kind)
		}
	}
	settled := func(obj client.Object, condition string) *metav1.Condition {
		var c *metav1.Condition
		Eventually(t, time.Minute, obj.GetName()+" has "+condition, func() bool {
			Must(t, admin.Get(ctx, client.ObjectKeyFromObject(obj), obj))
			var conds []metav1.Condition
			switch o := obj.(type) {
			case *platformv1alpha1.ServiceSLO:
				conds = o.Status.Conditions
			case *platformv1alpha1.ClusterUpgradePolicy:
				conds = o.Status.Conditions
			}
			c = meta.FindStatusCondition(conds, condition)
			return c != nil && c.Status != metav1.ConditionUnknown && c.ObservedGeneration == obj.GetGeneration()
		})
		return c
	}
	for _, s := range slos {
		if c := settled(s, platformv1alpha1.ConditionSynced); c.Status != metav1.ConditionTrue {
			t.Errorf("ServiceSLO %s was admitted but not taken by Datadog: %s: %s\nspec %+v", s.GetName(), c.Reason, c.Message, s.(*platformv1alpha1.ServiceSLO).Spec)
		}
	}
	for _, p := range policies {
		if c := settled(p, platformv1alpha1.ConditionProviderSynced); c.Status != metav1.ConditionTrue {
			t.Errorf("ClusterUpgradePolicy %s was admitted but not taken by GKE: %s: %s\nspec %+v", p.GetName(), c.Reason, c.Message, p.(*platformv1alpha1.ClusterUpgradePolicy).Spec)
		}
	}
}

// admitted reports whether a create was accepted; a refusal must be an Invalid naming a field.
func admitted(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && !apierrors.IsInvalid(err) {
		t.Errorf("refused without a field: %v", err)
	}
	if err != nil {
		t.Logf("refused: %v", err)
	}
	return err == nil
}

func pick[T any](rng *rand.Rand, pool ...T) T { return pool[rng.IntN(len(pool))] }

// mostly picks from valid nine times in ten, else from invalid: a spec has many fields, and
// one invalid value refuses it.
func mostly[T any](rng *rand.Rand, valid []T, invalid ...T) T {
	if len(invalid) > 0 && rng.IntN(10) == 0 {
		return pick(rng, invalid...)
	}
	return pick(rng, valid...)
}

// randomServiceSLO draws a ServiceSLO from pools of valid and invalid values for each field.
// Monitor-based indicators are left out: whether monitors exist is Datadog's to say.
func randomServiceSLO(rng *rand.Rand, name string) *platformv1alpha1.ServiceSLO {
	queries := []string{"sum:http.requests{service:checkout}.as_count()", "sum:http.requests{service:checkout,!code:5xx}.as_count()",
		"(sum:a{x:y}.as_count() + sum:b{x:y}.as_count())", `avg:latency{service:"check}out"}`}
	badQueries := []string{"sum:http.requests{service:checkout.as_count()", "   ", "sum:a{x:y}).as_count()"}
	s := &platformv1alpha1.ServiceSLO{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "random"},
		Spec: platformv1alpha1.ServiceSLOSpec{
			Service: mostly(rng, []string{"checkout", "search_api", "payments.v2"}, "Checkout", "-x"),
			Tags:    []string{mostly(rng, []string{"env:prod", "tier:critical", "region:eu-west1", "Env:Prod"}, "9lives", "Team:x")},
		},
	}
	if rng.IntN(2) == 0 {
		s.Spec.Indicator.Metric = &platformv1alpha1.MetricIndicator{Good: mostly(rng, queries, badQueries...), Total: mostly(rng, queries, badQueries...)}
	} else {
		s.Spec.Indicator.TimeSlice = &platformv1alpha1.TimeSliceIndicator{Query: mostly(rng, queries, badQueries...),
			Comparator: mostly(rng, []string{"<", ">=", "<=", ">"}, "=="), Threshold: mostly(rng, []string{"0.5", "-1", "300"}, "1e3")}
	}
	for _, i := range rng.Perm(3)[:1+rng.IntN(2)] {
		o := platformv1alpha1.Objective{Timeframe: mostly(rng, []platformv1alpha1.Timeframe{[]platformv1alpha1.Timeframe{"7d", "30d", "90d"}[i]}, "1d"),
			Target: mostly(rng, []string{"99.9", "99", "99.99", "50", "0.5", "99.5"}, "0", "100", "99.99999")}
		if w := mostly(rng, []string{"", "", "99.995"}, "99", "100"); w != "" {
			o.Warning = &w
		}
		s.Spec.Objectives = append(s.Spec.Objectives, o)
	}
	if rng.IntN(2) == 0 {
		a := &platformv1alpha1.Alerting{Notify: []string{mostly(rng, []string{"@pagerduty-payments", "@slack-payments"}, "pagerduty")}}
		if rng.IntN(2) == 0 {
			a.Tiers = []platformv1alpha1.BurnRateTier{{LongWindow: mostly(rng, []string{"1h", "6h", "24h"}, "72h", "30m"), ShortWindow: mostly(rng, []string{"5m", "30m"}, "2h"),
				BurnRate: mostly(rng, []string{"14.4", "6", "1", "2.5"}, "1000", "0"), Severity: pick(rng, "page", "ticket")}}
		}
		s.Spec.Alerting = a
	}
	return s
}

// randomPolicy draws a ClusterUpgradePolicy with a GKE provider from pools of windows,
// exclusions and zones, some of which GKE refuses.
func randomPolicy(rng *rand.Rand, name string, now time.Time) *platformv1alpha1.ClusterUpgradePolicy {
	p := &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{
			Provider: &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: name}},
			Suspend:  rng.IntN(4) == 0,
		},
	}
	days := []platformv1alpha1.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	w := platformv1alpha1.MaintenanceWindow{Name: "w",
		Start:    fmt.Sprintf("%02d:%02d", rng.IntN(24), pick(rng, 0, 30)),
		Duration: mostly(rng, []string{"4h", "8h", "12h", "24h", "6h30m"}, "2h", "30m"),
		TimeZone: pick[platformv1alpha1.TimeZone](rng, "UTC", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "America/Santiago")}
	if rng.IntN(3) == 0 {
		w.RRule = mostly(rng, []string{"FREQ=MONTHLY;BYDAY=1SA", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=MONTHLY;BYDAY=1SA,2SA,3SA,4SA"}, "FREQ=WEEKLY;BYDAY=1MO", "FREQ=WEEKLY;BYDAY=MO;BYDAY=TU")
	} else {
		for _, i := range rng.Perm(7)[:1+rng.IntN(7)] {
			w.DaysOfWeek = append(w.DaysOfWeek, days[i])
		}
	}
	p.Spec.MaintenanceWindows = []platformv1alpha1.MaintenanceWindow{w}
	for i := range rng.IntN(3) {
		start := now.Add(time.Duration(1+rng.IntN(60)) * 24 * time.Hour).UTC().Truncate(time.Hour)
		p.Spec.Exclusions = append(p.Spec.Exclusions, platformv1alpha1.Exclusion{Name: fmt.Sprintf("e%d", i),
			Start: metav1.NewTime(start), End: metav1.NewTime(start.Add(pick(rng, 6*time.Hour, 10*24*time.Hour, 31*24*time.Hour, 100*24*time.Hour, 200*24*time.Hour))),
			Scope: pick[platformv1alpha1.UpgradeScope](rng, "NoUpgrades", "NoMinorUpgrades", "NoMinorOrNodeUpgrades")})
	}
	return p
}
