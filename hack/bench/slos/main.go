// Command bench-slos measures the ServiceSLO controller against the Datadog fake
// (`make bench-slos`): the Datadog calls made to create N ServiceSLOs with the default three
// tiers, the calls per poll and per hour in steady state, the same with TenantNamespaces and
// their baseline monitors beside them, and the time to converge after a 60-second 429 storm. It prints figures; it asserts nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	"github.com/selfserve-dev/selfserve/test/testutil"
)

func main() {
	n := flag.Int("slos", 1000, "ServiceSLOs to create.")
	poll := flag.Duration("poll", 10*time.Second, "Poll interval of the run; per-hour figures are scaled to the default 10 min.")
	storm := flag.Duration("storm", 60*time.Second, "Length of the 429 storm.")
	tenants := flag.Int("tenants", 300, "TenantNamespaces with five baseline monitors each to create beside the ServiceSLOs (0: none).")
	pageSize := flag.Int("fake-page-size", 0, "Cap every page the Datadog fake answers at this many items (0: as asked), to show the cost of paging.")
	var f faults
	flag.DurationVar(&f.lag, "lag", 0, "Datadog's lists and search show an object this long after it was stored (0: at once).")
	flag.IntVar(&f.loseEvery, "lose-every", 0, "Every nth create is stored and then answered 502 (0: none).")
	flag.Float64Var(&f.repeatRate, "repeat-rate", 0, "Share of page reads answered with the page before (0: none).")
	flag.Parse()
	testutil.RunBenchmark("bench-slos", func(ctx context.Context) error { return run(ctx, *n, *tenants, *poll, *storm, *pageSize, f) })
}

// faults are how the Datadog fake misbehaves for the whole run.
type faults struct {
	lag        time.Duration
	loseEvery  int
	repeatRate float64
}

func (f faults) String() string {
	if f == (faults{}) {
		return "consistent lists, no lost answers"
	}
	return fmt.Sprintf("lists %s behind, every %dth create answered 502 after being stored, %.0f %% of page reads repeated", f.lag, f.loseEvery, 100*f.repeatRate)
}

func run(ctx context.Context, n, tenants int, poll, storm time.Duration, pageSize int, f faults) error {
	loadBefore := testutil.MachineLoad()
	fmt.Printf("Starting the local control plane %s and the Datadog fake (%s) ...\n", controlplane.Version, f)
	fake := datadogfake.New(datadogfake.Options{PageSize: pageSize, RepeatPageRate: f.repeatRate, Seed: 1})
	for _, route := range []string{"GET /api/v1/slo", "GET /api/v1/monitor", "GET /api/v1/slo/search"} {
		fake.SetListLag(route, f.lag)
	}
	if f.loseEvery > 0 {
		fake.LoseAnswers("POST /api/v1/slo", f.loseEvery, http.StatusBadGateway)
		fake.LoseAnswers("POST /api/v1/monitor", f.loseEvery, http.StatusBadGateway)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	env, err := controlplane.StartEnv(ctx, controlplane.Options{}, func(opts *operator.Options) {
		opts.EnableWebhooks = false
		opts.DatadogPoll = poll
		opts.SLOWorkers = 16
		opts.DatadogOverride = &datadog.Settings{Site: datadog.DefaultSite, URL: srv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}
	})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	c := env.Admin // no client-side limit, like the operator
	if err := tenant(ctx, c); err != nil {
		return err
	}

	fmt.Printf("Creating %d ServiceSLOs (default tiers: 3 monitors each) ...\n", n)
	fake.ResetRequests()
	start := time.Now()
	if err := testutil.Parallel(n, 16, func(i int) error { return c.Create(ctx, newSLO(i)) }); err != nil {
		return err
	}
	if err := waitReady(ctx, c, n); err != nil {
		return err
	}
	createTime := time.Since(start)
	create := fake.Requests()

	fmt.Printf("Steady state: counting calls over the next 3 polls of %s the operator makes ...\n", poll)
	steady, polls, err := steadyState(fake, 3)
	if err != nil {
		return err
	}
	perPoll := float64(total(steady)) / float64(polls)
	if err := tenantsPhase(ctx, c, fake, tenants, steady, polls); err != nil {
		return err
	}
	perHour := perPoll * float64(time.Hour/(10*time.Minute))
	fmt.Println("The same with Datadog answering in pages of 100 ...")
	fake.SetPageSize(100)
	paged, pagedPolls, err := steadyState(fake, 3)
	if err != nil {
		return err
	}
	fake.SetPageSize(pageSize)
	pagedPerPoll := float64(total(paged)) / float64(pagedPolls)

	fmt.Printf("A %s 429 storm while 100 targets change ...\n", storm)
	fake.Throttle(storm)
	stormStart := time.Now()
	var list platformv1alpha1.ServiceSLOList
	if err := c.List(ctx, &list, client.InNamespace("bench")); err != nil {
		return err
	}
	for i := range min(100, len(list.Items)) {
		s := &list.Items[i]
		s.Spec.Objectives[0].Target = "99.5"
		if err := c.Update(ctx, s); err != nil {
			return err
		}
	}
	time.Sleep(time.Until(stormStart.Add(storm)))
	stormEnd := time.Now()
	if err := waitReady(ctx, c, n); err != nil {
		return err
	}
	converge := time.Since(stormEnd)
	slos, monitors := len(fake.SLOs()), len(fake.Monitors())

	fmt.Printf("Deleting the %d ServiceSLOs ...\n", n)
	deleteStart := time.Now()
	if err := c.DeleteAllOf(ctx, &platformv1alpha1.ServiceSLO{}, client.InNamespace("bench")); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		var list platformv1alpha1.ServiceSLOList
		if err := c.List(ctx, &list, client.InNamespace("bench")); err != nil {
			return err
		}
		if len(list.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d ServiceSLOs still there 10 minutes after their deletion", len(list.Items))
		}
	}
	deleteTime := time.Since(deleteStart)
	leftSLOs, leftMonitors := len(fake.SLOs()), len(fake.Monitors())

	fmt.Printf(`
ServiceSLO benchmark, %d ServiceSLOs with 3 tiers each, against the Datadog fake
  creation: %.1f s, %d calls: %s
  per CR: %.2f SLO creates, %.2f monitor creates
  steady state: %d calls in %d polls observed = %.1f per poll (%s), about %.0f per hour at the default 10 min poll
  the same in pages of 100: %d calls in %d polls = %.1f per poll (%s), about %.0f per hour
  after a %s 429 storm with 100 targets changed: converged %.1f s after it ended
  Datadog holds %d SLOs and %d monitors (want %d and %d: no duplicates)
  deleted in %.1f s; Datadog holds %d SLOs and %d monitors after (want 0 and 0: no orphans)
  Datadog: %s
`, n, createTime.Seconds(), total(create), describe(create),
		float64(create["POST /api/v1/slo"])/float64(n), float64(create["POST /api/v1/monitor"])/float64(n),
		total(steady), polls, perPoll, describe(steady), perHour,
		total(paged), pagedPolls, pagedPerPoll, describe(paged), pagedPerPoll*float64(time.Hour/(10*time.Minute)),
		storm, converge.Seconds(), slos, monitors, n, 3*n, deleteTime.Seconds(), leftSLOs, leftMonitors, f)
	fmt.Printf("  machine: before %s; after %s\n", loadBefore, testutil.MachineLoad())
	return nil
}

// steadyState counts the Datadog calls made in the next n polls of the operator, counted from
// its own poll metric: from the end of one poll to the end of the n-th after it.
func steadyState(fake *datadogfake.Server, n int) (map[string]int, int, error) {
	polls := func() (int, error) {
		v, err := controlplane.Metric("selfserve_datadog_polls_total", map[string]string{"outcome": "ok"})
		return int(v), err
	}
	wait := func(target int) error {
		for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			p, err := polls()
			if err != nil {
				return err
			}
			if p >= target {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d polls after 10 minutes, waiting for %d", p, target)
			}
		}
	}
	start, err := polls()
	if err != nil {
		return nil, 0, err
	}
	if err := wait(start + 1); err != nil {
		return nil, 0, err
	}
	fake.ResetRequests()
	if err := wait(start + 1 + n); err != nil {
		return nil, 0, err
	}
	return fake.Requests(), n, nil
}

func tenant(ctx context.Context, c client.Client) error {
	if err := c.Create(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}}); err != nil {
		return err
	}
	if err := c.Create(ctx, testutil.Team("bench", "bench")); err != nil {
		return err
	}
	if err := c.Create(ctx, &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec:       platformv1alpha1.TenantNamespaceSpec{Team: "bench", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-bench"}}},
	}); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var t platformv1alpha1.TenantNamespace
		if c.Get(ctx, client.ObjectKey{Name: "bench"}, &t) == nil && meta.IsStatusConditionTrue(t.Status.Conditions, platformv1alpha1.ConditionReady) {
			return nil
		}
	}
	return fmt.Errorf("tenant not ready")
}

func newSLO(i int) *platformv1alpha1.ServiceSLO {
	svc := fmt.Sprintf("svc-%04d", i)
	return &platformv1alpha1.ServiceSLO{
		ObjectMeta: metav1.ObjectMeta{Name: svc, Namespace: "bench"},
		Spec: platformv1alpha1.ServiceSLOSpec{
			Service: svc,
			Indicator: platformv1alpha1.Indicator{Metric: &platformv1alpha1.MetricIndicator{
				Good: "sum:requests.ok{service:" + svc + "}.as_count()", Total: "sum:requests{service:" + svc + "}.as_count()"}},
			Objectives: []platformv1alpha1.Objective{{Timeframe: "30d", Target: "99.9"}},
		},
	}
}

func waitReady(ctx context.Context, c client.Client, n int) error {
	for deadline := time.Now().Add(30 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		var list platformv1alpha1.ServiceSLOList
		if err := c.List(ctx, &list, client.InNamespace("bench")); err != nil {
			return err
		}
		ready := 0
		for _, s := range list.Items {
			if meta.IsStatusConditionTrue(s.Status.Conditions, platformv1alpha1.ConditionReady) && s.Status.ObservedGeneration == s.Generation {
				ready++
			}
		}
		if ready >= n {
			return nil
		}
	}
	return fmt.Errorf("not all ServiceSLOs became Ready")
}

func total(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

func describe(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
