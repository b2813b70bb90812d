// Command bench-tenants measures the TenantNamespace controller on the local control plane
// (`make bench-tenants`): how long the operator takes to bring N tenants to Ready, against a
// plain client creating the same objects at the same parallelism; how many API writes a tenant
// costs; how many writes a full resync of unchanged tenants causes; and the operator's heap and
// resident memory. The operator is the manager binary (./cmd) in its own process, as a user
// deploys it, so its memory is its own. Several sizes (--tenants 1000,3000,10000) run one after
// the other, each on a fresh control plane, and end with a growth table.
// It prints figures; it asserts nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/testutil"
)

var cpuProfile, apiserverProfile string
var profileAfter time.Duration
var profileSeconds int

// memoryLimit is the operator container's memory limit, as the Deployment passes it.
var memoryLimit string

// withChurn runs the pod-churn phase; heapProfile names the heap profile to write.
var (
	withChurn   bool
	heapProfile string
)

func main() {
	sizes := flag.String("tenants", "1000", "TenantNamespaces to create; a comma-separated list runs each size on a fresh control plane and prints a growth table.")
	parallelism := flag.Int("parallelism", 16, "Concurrent creations, and the operator's tenant workers.")
	flag.BoolVar(&withChurn, "churn", true, "After the creation figures, start kube-controller-manager and count the tenants' status writes while pods come and go.")
	flag.StringVar(&memoryLimit, "memory-limit", "1Gi", "The operator container's memory limit, passed as the Deployment does (MEMORY_LIMIT); 0 for none.")
	flag.StringVar(&heapProfile, "heapprofile", "", "Write a heap profile of the operator at the end, after a GC, to this file.")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "Write a CPU profile of the operator (--profile-seconds of the creation phase, from --profile-after) to this file.")
	flag.StringVar(&apiserverProfile, "apiserver-cpuprofile", "", "Write a CPU profile of kube-apiserver (its /debug/pprof endpoint) during the operator phase to this file.")
	flag.DurationVar(&profileAfter, "profile-after", 0, "Start the CPU profiles this long after the first create (to see a large run late in its creation).")
	flag.IntVar(&profileSeconds, "profile-seconds", 8, "Length of the CPU profiles.")
	flag.Parse()
	var ns []int
	for _, size := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(size))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench-tenants: --tenants: want positive numbers, got %q\n", size)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	testutil.RunBenchmark("bench-tenants", func(ctx context.Context) error {
		var results []result
		for _, n := range ns {
			r, err := run(ctx, n, *parallelism)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		if len(results) > 1 {
			printGrowth(results)
		}
		return nil
	})
}

// result is one size's row of the growth table.
type result struct {
	tenants         int
	plain, operator time.Duration
	writesPerTenant float64
	resyncWrites    int
	heapMiB, rssMiB float64
	cpu             cpuTimes
}

// cpuTimes is the CPU time used by each process of the benchmark: kube-apiserver, etcd, the
// operator and the benchmark itself (its client and its watch of the tenants).
type cpuTimes map[string]time.Duration

// cpuProcesses are the processes cpuTimes counts, in the order they are printed.
var cpuProcesses = []string{"kube-apiserver", "etcd", "operator", "benchmark"}

// readCPU reads the CPU time so far of the control plane (this process's children), the
// operator and this process.
func readCPU(op *controlplane.OperatorProcess) cpuTimes {
	t := cpuTimes{"benchmark": testutil.ProcCPU(os.Getpid())}
	if op != nil {
		t["operator"] = op.CPU()
	}
	children, _ := testutil.ChildProcesses(os.Getpid())
	for pid, name := range children {
		switch {
		case name == "etcd":
			t["etcd"] += testutil.ProcCPU(pid)
		case strings.HasPrefix(name, "kube-apiserver"):
			t["kube-apiserver"] += testutil.ProcCPU(pid)
		}
	}
	return t
}

func (t cpuTimes) since(before cpuTimes) cpuTimes {
	out := cpuTimes{}
	for name, d := range t {
		out[name] = d - before[name]
	}
	return out
}

func (t cpuTimes) total() (sum time.Duration) {
	for _, d := range t {
		sum += d
	}
	return sum
}

// explain is each process's share in ms per tenant.
func (t cpuTimes) explain(n int) string {
	parts := make([]string, 0, len(cpuProcesses))
	for _, name := range cpuProcesses {
		parts = append(parts, fmt.Sprintf("%s %.2f", name, t[name].Seconds()*1000/float64(n)))
	}
	return strings.Join(parts, " + ")
}

// printGrowth prints how the figures grow with the number of tenants: linear growth keeps the
// time per tenant and the writes per tenant flat.
func printGrowth(results []result) {
	fmt.Printf("\nGrowth (operator in its own process)\n  %8s %10s %10s %7s %12s %9s %13s %11s %11s   %s\n",
		"tenants", "plain s", "operator s", "ratio", "ms / tenant", "writes/t", "resync writes", "heap MiB", "peak RSS", "CPU ms / tenant ("+strings.Join(cpuProcesses, ", ")+")")
	for _, r := range results {
		fmt.Printf("  %8d %10.1f %10.1f %7.2f %12.2f %9.2f %13d %11.1f %11.1f   %.2f (%s)\n", r.tenants, r.plain.Seconds(), r.operator.Seconds(),
			r.operator.Seconds()/r.plain.Seconds(), float64(r.operator.Milliseconds())/float64(r.tenants), r.writesPerTenant, r.resyncWrites, r.heapMiB, r.rssMiB,
			r.cpu.total().Seconds()*1000/float64(r.tenants), r.cpu.explain(r.tenants))
	}
}

func run(ctx context.Context, n, parallelism int) (result, error) {
	loadBefore := testutil.MachineLoad()
	// Each baseline, and then the operator, runs on a control plane of its own that holds only
	// its n tenants' objects, as a cluster of n tenants does. (Until 2026-12-06 they ran one after
	// the other on one control plane: the operator then ran among the 3n tenants' objects the
	// baselines had left, 150,000 of them at 10,000 tenants, and each baseline among fewer.)
	var plain, plainApply time.Duration
	if err := onFreshControlPlane(ctx, func(admin client.Client) error {
		fmt.Printf("Plain client: %d tenants' objects (namespace, RoleBinding, ResourceQuota, LimitRange, NetworkPolicy) at parallelism %d ...\n", n, parallelism)
		start := time.Now()
		err := testutil.Parallel(n, parallelism, func(i int) error { return createPlain(ctx, admin, fmt.Sprintf("plain-%04d", i), false) })
		plain = time.Since(start)
		return err
	}); err != nil {
		return result{}, err
	}
	if err := onFreshControlPlane(ctx, func(admin client.Client) error {
		fmt.Printf("Plain client, server-side apply of the same objects (what the operator uses) ...\n")
		start := time.Now()
		err := testutil.Parallel(n, parallelism, func(i int) error { return createPlain(ctx, admin, fmt.Sprintf("apply-%04d", i), true) })
		plainApply = time.Since(start)
		return err
	}); err != nil {
		return result{}, err
	}
	var floor time.Duration
	var floorSteps []string
	var floorCPU cpuTimes
	if err := onFreshControlPlane(ctx, func(admin client.Client) error {
		fmt.Printf("Plain client, the operator's own requests, one kind at a time ...\n")
		before := readCPU(nil)
		defer func() { floorCPU = readCPU(nil).since(before) }()
		for _, step := range operatorRequests {
			start := time.Now()
			if err := testutil.Parallel(n, parallelism, func(i int) error { return step.send(ctx, admin, fmt.Sprintf("floor-%04d", i)) }); err != nil {
				return fmt.Errorf("%s: %w", step.name, err)
			}
			took := time.Since(start)
			floor += took
			floorSteps = append(floorSteps, fmt.Sprintf("%s %.1f s", step.name, took.Seconds()))
		}
		return nil
	}); err != nil {
		return result{}, err
	}

	cp, admin, err := startControlPlane(ctx)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = cp.Stop() }()

	fmt.Println("Building and starting the operator (./cmd) as its own process ...")
	limit, err := resource.ParseQuantity(memoryLimit)
	if err != nil {
		return result{}, fmt.Errorf("--memory-limit: %w", err)
	}
	var env []string
	if limit.Value() > 0 {
		env = append(env, fmt.Sprintf("MEMORY_LIMIT=%d", limit.Value()))
	}
	opFlags := []string{fmt.Sprintf("--tenant-workers=%d", parallelism)}
	op, err := cp.StartOperatorProcess(ctx, env, opFlags...)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = op.Stop() }()

	fmt.Printf("Operator: %d TenantNamespaces until all are Ready, %d workers ...\n", n, parallelism)
	before, err := snapshotWrites(ctx, cp, op)
	if err != nil {
		return result{}, err
	}
	// Readiness is followed through a watch opened before the first create: polling with full
	// lists of 1,000 tenants would load the apiserver the benchmark measures.
	allReady, err := watchAllReady(ctx, cp.Config, n)
	if err != nil {
		return result{}, err
	}
	profiled := make(chan error, 2)
	profile := func(path string, take func(context.Context, string, int) error) {
		if path == "" {
			profiled <- nil
			return
		}
		go func() {
			select {
			case <-time.After(profileAfter):
			case <-ctx.Done():
			}
			profiled <- take(ctx, path, profileSeconds)
		}()
	}
	profile(cpuProfile, op.CPUProfile)
	profile(apiserverProfile, func(ctx context.Context, path string, seconds int) error {
		return profileAPIServer(ctx, cp.Config, path, seconds)
	})
	stopSampling, peak := sampleMemory(op)
	cpuBefore := readCPU(op)
	start := time.Now()
	if err := testutil.Parallel(n, parallelism, func(i int) error { return admin.Create(ctx, benchTenant(fmt.Sprintf("tenant-%04d", i))) }); err != nil {
		return result{}, err
	}
	created := time.Since(start)
	if heapProfile != "" {
		// The operator is furthest behind when the last create returns.
		if _, err := op.HeapAfterGC(heapProfile + ".burst"); err != nil {
			return result{}, err
		}
	}
	if err := <-allReady; err != nil {
		return result{}, err
	}
	withOperator := time.Since(start)
	cpu := readCPU(op).since(cpuBefore)
	stopSampling()
	for range 2 {
		if err := <-profiled; err != nil {
			return result{}, fmt.Errorf("profiling: %w", err)
		}
	}
	after, err := snapshotWrites(ctx, cp, op)
	if err != nil {
		return result{}, err
	}
	// The benchmark's own writes in that time: the n tenants.
	writes := after.since(before, map[string]float64{"POST tenantnamespaces": float64(n)})

	// The class counts its tenants a second behind them; let it catch up before the resync.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var cls platformv1alpha1.TenantClass
		if err := admin.Get(ctx, client.ObjectKey{Name: "bench"}, &cls); err != nil {
			return result{}, err
		}
		if cls.Status.Tenants == int32(n) {
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("the class counts %d tenants after a minute, want %d", cls.Status.Tenants, n)
		}
	}
	// So do the Teams (namespaces held, summed quota).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var teams platformv1alpha1.TeamList
		if err := admin.List(ctx, &teams); err != nil {
			return result{}, err
		}
		held := 0
		for _, t := range teams.Items {
			held += int(t.Status.Namespaces)
		}
		if held == n {
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("the teams count %d namespaces after a minute, want %d", held, n)
		}
	}
	fmt.Println("Full resync of unchanged tenants (a TenantClass change re-queues all of them) ...")
	reconciles, err := op.Reconciles("tenantnamespace")
	if err != nil {
		return result{}, err
	}
	resyncBefore, err := snapshotWrites(ctx, cp, op)
	if err != nil {
		return result{}, err
	}
	var cls platformv1alpha1.TenantClass
	if err := admin.Get(ctx, client.ObjectKey{Name: "bench"}, &cls); err != nil {
		return result{}, err
	}
	cls.Annotations = map[string]string{"bench/touched": time.Now().Format(time.RFC3339Nano)}
	if err := admin.Update(ctx, &cls); err != nil {
		return result{}, err
	}
	resyncStart := time.Now()
	for {
		r, err := op.Reconciles("tenantnamespace")
		if err != nil {
			return result{}, err
		}
		if r >= reconciles+float64(n) {
			break
		}
		if time.Since(resyncStart) > 5*time.Minute {
			return result{}, fmt.Errorf("resync did not finish: %v of %d reconciles", r-reconciles, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resync := time.Since(resyncStart)
	resyncAfter, err := snapshotWrites(ctx, cp, op)
	if err != nil {
		return result{}, err
	}
	// The benchmark's own write in that time: the class's annotation.
	resyncWrites := resyncAfter.since(resyncBefore, map[string]float64{"PUT tenantclasses": 1})

	// A restart (a deploy, an OOM kill) and a leader failover, against the unchanged tenants.
	if op, err = restartPhase(ctx, cp, op, env, opFlags, n); err != nil {
		return result{}, err
	}
	if op, err = failoverPhase(ctx, cp, op, env, opFlags, n); err != nil {
		return result{}, err
	}

	// What one developer waits for on a quiet cluster: one tenant at a time, apply to Ready.
	const single = 10
	fmt.Printf("%d more tenants, one at a time, each until Ready ...\n", single)
	var singles []time.Duration
	for i := range single {
		ready, err := watchAllReady(ctx, cp.Config, n+i+1)
		if err != nil {
			return result{}, err
		}
		start := time.Now()
		if err := admin.Create(ctx, benchTenant(fmt.Sprintf("single-%02d", i))); err != nil {
			return result{}, err
		}
		if err := <-ready; err != nil {
			return result{}, err
		}
		singles = append(singles, time.Since(start))
	}
	slices.Sort(singles)

	churn := ""
	if withChurn {
		if churn, err = podChurn(ctx, cp, admin, op, n); err != nil {
			return result{}, err
		}
	}

	heap, err := op.HeapAfterGC(heapProfile)
	if err != nil {
		return result{}, err
	}
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	res := result{tenants: n, plain: plain, operator: withOperator, writesPerTenant: writes.operator / float64(n),
		resyncWrites: int(resyncWrites.operator), heapMiB: float64(heap) / (1 << 20), rssMiB: op.Memory("VmHWM"), cpu: cpu}

	fmt.Printf(`
TenantNamespace benchmark, %d tenants, parallelism %d, %d CPUs
  plain client, same objects         %8.1f s   (create)
  plain client, server-side apply    %8.1f s
  operator, until all Ready          %8.1f s   (the %d creates of TenantNamespaces took %.1f s of it)
  ratio operator / plain create      %8.2f   (goal <= 1.3)
  ratio operator / plain apply       %8.2f
  ratio operator / its own requests  %8.2f   (a plain client sending them: %.1f s = %s)
  API writes per tenant              %8.2f   (%s)
  API reads served                             (%s; per tenant in brackets, the benchmark's own watch included)
  CPU per tenant until all Ready     %8.2f ms (%s, of %.0f s on %d CPUs; its own requests from a plain client: %.2f ms = %s)
  writes in a full resync            %8.0f   (goal 0; %d reconciles in %.1f s; %s)
  one tenant alone, apply to Ready   %8.0f ms  (median of %d; slowest %.0f ms)
  operator heap after GC             %8.1f MiB (goal <= 150 at 10,000 tenants)
  operator live heap, peak           %8.1f MiB (go_gc_heap_live_bytes every 2 s while tenants were provisioned)
  operator peak RSS                  %8.1f MiB (VmHWM, its executable's pages included; container memory limit %s, the garbage collector aims under 90%% of it)
  operator anonymous RSS, peak       %8.1f MiB (RssAnon every 2 s while tenants were provisioned; what the limit cannot reclaim)
  benchmark client heap, peak RSS    %8.1f MiB, %.1f MiB (this process; the control plane runs in its own)
%s  machine: before %s; after %s
`, n, parallelism, runtime.NumCPU(), plain.Seconds(), plainApply.Seconds(), withOperator.Seconds(), n, created.Seconds(), withOperator.Seconds()/plain.Seconds(),
		withOperator.Seconds()/plainApply.Seconds(), withOperator.Seconds()/floor.Seconds(), floor.Seconds(), strings.Join(floorSteps, " + "),
		res.writesPerTenant, writes.explain(), writes.explainReads(n), cpu.total().Seconds()*1000/float64(n), cpu.explain(n), withOperator.Seconds()*float64(runtime.NumCPU()), runtime.NumCPU(),
		floorCPU.total().Seconds()*1000/float64(n), floorCPU.explain(n), resyncWrites.operator, n, resync.Seconds(), resyncWrites.explain(),
		float64(singles[single/2].Microseconds())/1000, single, float64(singles[single-1].Microseconds())/1000,
		res.heapMiB, peak.liveHeap/(1<<20), res.rssMiB, memoryLimit, peak.rssAnonMiB, float64(mem.HeapAlloc)/(1<<20), testutil.PeakRSS(os.Getpid()), churn, loadBefore, testutil.MachineLoad())
	return res, nil
}

// restartPhase stops the operator and starts a new process against the n unchanged tenants,
// and prints how long the new one took to reconcile them all and to settle, and the writes
// kube-apiserver served meanwhile (the goal is none). It returns the new process.
func restartPhase(ctx context.Context, cp *controlplane.ControlPlane, op *controlplane.OperatorProcess, env, flags []string, n int) (*controlplane.OperatorProcess, error) {
	fmt.Println("Restart: a new operator process against the unchanged tenants ...")
	before, err := snapshotWrites(ctx, cp, nil)
	if err != nil {
		return op, err
	}
	if err := op.Stop(); err != nil {
		return op, fmt.Errorf("stopping the operator: %w", err)
	}
	// Timed from when the new process answers /readyz: starting it includes building ./cmd.
	next, err := cp.StartOperatorProcess(ctx, env, flags...)
	if err != nil {
		return op, err
	}
	return next, takeOver(ctx, cp, next, n, time.Now(), before, "restart: the new process, from ready,")
}

// failoverPhase replaces the operator with two replicas under leader election, kills the leader
// (SIGKILL: no lease released, as an OOM kill or a lost node), and prints how long the other
// took to take over (from the kill) and to settle, and the writes kube-apiserver served since.
func failoverPhase(ctx context.Context, cp *controlplane.ControlPlane, op *controlplane.OperatorProcess, env, flags []string, n int) (*controlplane.OperatorProcess, error) {
	fmt.Println("Failover: two replicas with leader election; the leader is killed ...")
	if err := op.Stop(); err != nil {
		return op, fmt.Errorf("stopping the operator: %w", err)
	}
	elect := append(slices.Clone(flags), "--leader-elect=true", "--leader-election-namespace=default")
	leader, err := cp.StartOperatorProcess(ctx, env, elect...)
	if err != nil {
		return leader, err
	}
	if _, _, err := settle(ctx, cp, leader, n, time.Now()); err != nil {
		return leader, err
	}
	standby, err := cp.StartOperatorProcess(ctx, env, elect...)
	if err != nil {
		return leader, err
	}
	before, err := snapshotWrites(ctx, cp, nil)
	if err != nil {
		return standby, err
	}
	start := time.Now()
	if err := leader.Kill(); err != nil {
		return standby, err
	}
	return standby, takeOver(ctx, cp, standby, n, start, before, "failover: the standby, from the kill (the lease lasts 15 s),")
}

// takeOver waits until op, which took over at start, has settled, and prints when it had
// reconciled the n tenants, when it settled, and the writes kube-apiserver served since before.
func takeOver(ctx context.Context, cp *controlplane.ControlPlane, op *controlplane.OperatorProcess, n int, start time.Time, before writeCounts, who string) error {
	reconciled, settled, err := settle(ctx, cp, op, n, start)
	if err != nil {
		return err
	}
	after, err := snapshotWrites(ctx, cp, op)
	if err != nil {
		return err
	}
	fmt.Printf("  %s reconciled the %d tenants in %.1f s and settled at %.1f s; writes %s\n",
		who, n, reconciled.Seconds(), settled.Seconds(), after.since(before, nil).explain())
	return nil
}

// settle waits until op has reconciled n tenants and kube-apiserver has served no write (leases
// aside) for 3 s, and returns both moments since start.
func settle(ctx context.Context, cp *controlplane.ControlPlane, op *controlplane.OperatorProcess, n int, start time.Time) (reconciled, settled time.Duration, err error) {
	for {
		r, err := op.Reconciles("tenantnamespace")
		if err != nil {
			return 0, 0, err
		}
		if r >= float64(n) {
			reconciled = time.Since(start)
			break
		}
		if time.Since(start) > 5*time.Minute {
			return 0, 0, fmt.Errorf("%v of %d tenants reconciled after 5 minutes", r, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := func() (float64, error) {
		w, err := snapshotWrites(ctx, cp, nil)
		var sum float64
		for _, v := range w.apiserver {
			sum += v
		}
		return sum, err
	}
	last, err := total()
	if err != nil {
		return 0, 0, err
	}
	quietSince := time.Now()
	for time.Since(quietSince) < 3*time.Second {
		if time.Since(start) > 5*time.Minute {
			return 0, 0, fmt.Errorf("still writing 5 minutes after the start")
		}
		time.Sleep(250 * time.Millisecond)
		now, err := total()
		if err != nil {
			return 0, 0, err
		}
		if now != last {
			last, quietSince = now, time.Now()
		}
	}
	return reconciled, quietSince.Sub(start), nil
}

// memoryPeaks are the most the sampler saw of the operator's live heap (marked live by its
// last GC) and of its anonymous resident memory, in bytes and MiB.
type memoryPeaks struct{ liveHeap, rssAnonMiB float64 }

// sampleMemory reads the operator's live heap and anonymous RSS every 2 s until stop.
func sampleMemory(op *controlplane.OperatorProcess) (stop func(), peak *memoryPeaks) {
	peak = new(memoryPeaks)
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if m, err := op.Metrics(); err == nil {
					peak.liveHeap = max(peak.liveHeap, m.Sum("go_gc_heap_live_bytes", nil))
				}
				peak.rssAnonMiB = max(peak.rssAnonMiB, op.Memory("RssAnon"))
			}
		}
	}()
	return func() { close(done); <-stopped }, peak
}

// writeCounts are the write requests counted on both ends at one moment: by the operator's
// client (client-go's rest_client_requests_total, by method) and by kube-apiserver
// (apiserver_request_total, by verb and resource, dry runs left out). The apiserver's count
// includes the benchmark's own writes; the two agree once those are taken off.
type writeCounts struct {
	operator  float64
	apiserver map[string]float64
	// reads are the other requests kube-apiserver served (GET, LIST, WATCH), by verb, anyone's.
	reads map[string]float64
}

// writeVerbs are kube-apiserver's verbs that store something.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}

func snapshotWrites(ctx context.Context, cp *controlplane.ControlPlane, op *controlplane.OperatorProcess) (writeCounts, error) {
	var w writeCounts
	var err error
	if op != nil {
		if w.operator, err = op.Writes(); err != nil {
			return writeCounts{}, err
		}
	}
	m, err := cp.APIServerMetrics(ctx)
	if err != nil {
		return writeCounts{}, err
	}
	w.apiserver, w.reads = map[string]float64{}, map[string]float64{}
	for _, s := range m.Series("apiserver_request_total", map[string]string{"dry_run": ""}) {
		verb, resource := controlplane.Label(s, "verb"), controlplane.Label(s, "resource")
		if !writeVerbs[verb] {
			w.reads[verb] += s.GetCounter().GetValue()
			continue
		}
		// kube-apiserver renews its own identity lease, and a leader its election lease.
		if resource == "leases" {
			continue
		}
		if sub := controlplane.Label(s, "subresource"); sub != "" {
			resource += "/" + sub
		}
		w.apiserver[verb+" "+resource] += s.GetCounter().GetValue()
	}
	return w, nil
}

// since returns the writes after before, kube-apiserver's less the benchmark's own (mine).
func (w writeCounts) since(before writeCounts, mine map[string]float64) writeCounts {
	delta := writeCounts{operator: w.operator - before.operator, apiserver: map[string]float64{}, reads: map[string]float64{}}
	for k, v := range w.apiserver {
		if d := v - before.apiserver[k] - mine[k]; d != 0 {
			delta.apiserver[k] = d
		}
	}
	for k, v := range w.reads {
		if d := v - before.reads[k]; d != 0 {
			delta.reads[k] = d
		}
	}
	return delta
}

// explainReads lists the reads kube-apiserver served, by verb, per tenant.
func (w writeCounts) explainReads(n int) string {
	return joinSorted(w.reads, func(verb string, v float64) string { return fmt.Sprintf("%s %.0f (%.2f)", verb, v, v/float64(n)) })
}

// explain says how the operator's count splits, as kube-apiserver counted it.
func (w writeCounts) explain() string {
	if len(w.apiserver) == 0 {
		return "kube-apiserver served none"
	}
	var total float64
	for _, v := range w.apiserver {
		total += v
	}
	return fmt.Sprintf("operator's client: %.0f; kube-apiserver, less the benchmark's own: %.0f = %s", w.operator, total,
		joinSorted(w.apiserver, func(k string, v float64) string { return fmt.Sprintf("%s %.0f", k, v) }))
}

// joinSorted formats each count, in the order of their keys.
func joinSorted(counts map[string]float64, format func(string, float64) string) string {
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, format(k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

func benchClass() *platformv1alpha1.TenantClass {
	return &platformv1alpha1.TenantClass{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: platformv1alpha1.TenantClassSpec{
			IsDefault: true,
			Quota: platformv1alpha1.ClassQuota{Default: corev1.ResourceList{
				corev1.ResourcePods: resource.MustParse("20"), corev1.ResourceRequestsCPU: resource.MustParse("2"),
			}},
			Limits: &platformv1alpha1.ContainerLimits{
				DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Default:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			},
			NetworkIsolation: platformv1alpha1.ClassNetworkIsolation{Default: platformv1alpha1.NetworkIsolationTeam},
		},
	}
}

func benchTenant(name string) *platformv1alpha1.TenantNamespace {
	return &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.TenantNamespaceSpec{
			Team:   "team-" + name[len(name)-1:],
			Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-" + name}},
		},
	}
}

// startControlPlane starts a fresh local control plane with the benchmark's class and its ten
// Teams, and returns it with an admin client (no client-side limit, like the operator).
func startControlPlane(ctx context.Context) (*controlplane.ControlPlane, client.Client, error) {
	fmt.Printf("Starting a fresh local control plane (etcd + kube-apiserver %s) ...\n", controlplane.Version)
	cp, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		return nil, nil, err
	}
	admin, err := cp.Client()
	if err == nil {
		err = admin.Create(ctx, benchClass())
	}
	if err == nil {
		teams := make([]string, 10)
		for i := range teams {
			teams[i] = fmt.Sprintf("team-%d", i)
		}
		err = testutil.CreateTeams(ctx, admin, teams, "bench")
	}
	if err != nil {
		_ = cp.Stop()
		return nil, nil, err
	}
	return cp, admin, nil
}

// onFreshControlPlane runs phase on a control plane of its own, stopped after it.
func onFreshControlPlane(ctx context.Context, phase func(admin client.Client) error) error {
	cp, admin, err := startControlPlane(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	return phase(admin)
}

// createPlain creates what the operator creates for one tenant, with plain creates or with
// server-side apply.
func createPlain(ctx context.Context, c client.Client, name string, apply bool) error {
	labels := map[string]string{platformv1alpha1.LabelTeam: "team-" + name[len(name)-1:]}
	cls := benchClass().Spec
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "owners", Namespace: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "team-" + name}},
		},
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "quota", Namespace: name}, Spec: corev1.ResourceQuotaSpec{Hard: cls.Quota.Default}},
		&corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: name}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Default: cls.Limits.Default, DefaultRequest: cls.Limits.DefaultRequest,
		}}}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "isolation", Namespace: name}, Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: labels},
			}}}},
		}},
	}
	for _, o := range objs {
		var err error
		if apply {
			err = applyTyped(ctx, c, o)
		} else {
			err = c.Create(ctx, o)
		}
		if err != nil {
			return fmt.Errorf("writing %T %s: %w", o, name, err)
		}
	}
	return nil
}

// operatorRequests are what provisioning one tenant costs the apiserver, the requests the
// operator sends plus the tenant itself: the TenantNamespace, the read of its namespace (the
// operator's cache holds managed namespaces only), server-side apply of the five objects, one
// status patch with the conditions a Ready tenant carries, and one Event recorded twice (before
// 2026-12-06 the floor recorded it once). Their time is the floor the operator cannot beat while
// it keeps the contract (apply, status, events); the ratio to it is the operator's own overhead.
// Timing them one kind at a time shows where the apiserver's time goes.
var operatorRequests = []struct {
	name string
	send func(ctx context.Context, c client.Client, name string) error
}{
	{"create tenant", func(ctx context.Context, c client.Client, name string) error { return c.Create(ctx, benchTenant(name)) }},
	{"read namespace", func(ctx context.Context, c client.Client, name string) error {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %s: want NotFound, got %v", name, err)
		}
		return nil
	}},
	{"apply children", func(ctx context.Context, c client.Client, name string) error { return createPlain(ctx, c, name, true) }},
	{"patch status", func(ctx context.Context, c client.Client, name string) error {
		// The tenant as created: the operator's patch is computed from its cached copy.
		t := benchTenant(name)
		t.Generation = 1
		before := t.DeepCopy()
		for _, typ := range []string{platformv1alpha1.ConditionNamespaceReady, platformv1alpha1.ConditionRBACReady, platformv1alpha1.ConditionQuotaReady,
			platformv1alpha1.ConditionLimitsReady, platformv1alpha1.ConditionNetworkReady, platformv1alpha1.ConditionDNSReady,
			platformv1alpha1.ConditionWithinClass, platformv1alpha1.ConditionReady} {
			meta.SetStatusCondition(&t.Status.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: "Provisioned",
				Message: fmt.Sprintf("%s of namespace %s for team %s is in place", typ, name, t.Spec.Team), ObservedGeneration: t.Generation})
		}
		t.Status.Class, t.Status.ObservedGeneration = "bench", t.Generation
		t.Status.Quota = &platformv1alpha1.QuotaUsage{Hard: benchClass().Spec.Quota.Default}
		return c.Status().Patch(ctx, t, client.MergeFrom(before))
	}},
	// The Event is recorded twice, as the operator does (decisions.md, "Events a team can read"):
	// in default, and in the tenant's namespace, which the apply step made.
	{"post Events", func(ctx context.Context, c client.Client, name string) error {
		for _, ns := range []string{metav1.NamespaceDefault, name} {
			regarding := corev1.ObjectReference{APIVersion: platformv1alpha1.GroupVersion.String(), Kind: "TenantNamespace", Name: name}
			if ns != metav1.NamespaceDefault {
				regarding.Namespace = ns // kube-apiserver takes an Event outside default about an object there
			}
			if err := c.Create(ctx, &eventsv1.Event{
				ObjectMeta: metav1.ObjectMeta{Name: name + ".provisioned", Namespace: ns},
				EventTime:  metav1.NowMicro(), ReportingController: "bench", ReportingInstance: "bench",
				Action: "Provision", Reason: "NamespaceCreated", Type: corev1.EventTypeNormal, Note: "Created namespace " + name,
				Regarding: regarding,
			}); err != nil {
				return err
			}
		}
		return nil
	}},
}

// watchAllReady reports on the returned channel once n TenantNamespaces are Ready (nil), or
// why it cannot tell. It watches from the current state; a closed watch is reopened from the
// last resourceVersion seen.
func watchAllReady(ctx context.Context, cfg *rest.Config, n int) (<-chan error, error) {
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return nil, err
	}
	var list platformv1alpha1.TenantNamespaceList
	if err := wc.List(ctx, &list); err != nil {
		return nil, err
	}
	ready := map[string]bool{}
	for _, t := range list.Items {
		ready[t.Name] = meta.IsStatusConditionTrue(t.Status.Conditions, platformv1alpha1.ConditionReady)
	}
	rv := list.ResourceVersion
	open := func() (watch.Interface, error) {
		return wc.Watch(ctx, &platformv1alpha1.TenantNamespaceList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
	}
	w, err := open()
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		defer func() { w.Stop() }()
		deadline := time.After(30 * time.Minute)
		// The count is kept as events arrive: counting the map at every event would cost the
		// benchmark's process O(n) per event, CPU the measured apiserver shares.
		count := 0
		for _, r := range ready {
			if r {
				count++
			}
		}
		for count < n {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					if w, err = open(); err != nil {
						done <- err
						return
					}
					continue
				}
				t, isTenant := ev.Object.(*platformv1alpha1.TenantNamespace)
				if !isTenant {
					continue
				}
				rv = t.ResourceVersion
				now := ev.Type != watch.Deleted && meta.IsStatusConditionTrue(t.Status.Conditions, platformv1alpha1.ConditionReady)
				switch was := ready[t.Name]; {
				case now && !was:
					count++
				case was && !now:
					count--
				}
				ready[t.Name] = now
			case <-deadline:
				done <- fmt.Errorf("not all %d tenants were Ready within 30 minutes", n)
				return
			case <-ctx.Done():
				done <- ctx.Err()
				return
			}
		}
		done <- nil
	}()
	return done, nil
}

// applyTyped server-side applies a typed object with its own field manager.
func applyTyped(ctx context.Context, c client.Client, o client.Object) error {
	gvk, err := c.GroupVersionKindFor(o)
	if err != nil {
		return err
	}
	m, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("plain"), client.ForceOwnership)
}

// profileAPIServer writes a CPU profile of kube-apiserver over the given seconds.
func profileAPIServer(ctx context.Context, cfg *rest.Config, path string, seconds int) error {
	rc, err := rest.RESTClientFor(restConfigForRaw(cfg))
	if err != nil {
		return err
	}
	data, err := rc.Get().AbsPath("/debug/pprof/profile").Param("seconds", fmt.Sprint(seconds)).Timeout(time.Duration(seconds+30) * time.Second).DoRaw(ctx)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func restConfigForRaw(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return c
}

// podChurn starts kube-controller-manager (its quota controller counts usage), lets every
// tenant take its first usage, then creates pods in churnTenants tenants, one per tenant every
// churnEvery, below the warning threshold, for churnFor. It reports the tenants' status writes
// in that time (kube-apiserver's count; the most for one tenant from a watch of the tenants):
// below the thresholds, usage reaches status at most once a minute per tenant.
func podChurn(ctx context.Context, cp *controlplane.ControlPlane, admin client.Client, op *controlplane.OperatorProcess, n int) (string, error) {
	const (
		churnTenants = 100
		churnEvery   = 5 * time.Second
		churnFor     = 90 * time.Second
	)
	fmt.Printf("Pod churn: kube-controller-manager counts quota usage; a pod every %s in %d tenants for %s ...\n", churnEvery, churnTenants, churnFor)
	if err := cp.StartControllerManager(); err != nil {
		return "", err
	}
	// Every tenant's first usage is written once; wait for it before counting.
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(time.Second) {
		var list platformv1alpha1.TenantNamespaceList
		if err := admin.List(ctx, &list); err != nil {
			return "", err
		}
		reported := 0
		for _, t := range list.Items {
			// The quota controller's first count: its hard limits appear in the usage.
			if t.Status.Quota != nil && len(t.Status.Quota.Hard) > 0 && t.Status.Quota.Updated != nil {
				reported++
			}
		}
		if reported >= len(list.Items) {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%d of %d tenants have their first quota usage after 3 minutes", reported, len(list.Items))
		}
	}
	before, err := snapshotWrites(ctx, cp, op)
	if err != nil {
		return "", err
	}
	stopCounting, err := countStatusChanges(ctx, cp.Config)
	if err != nil {
		return "", err
	}
	start := time.Now()
	pods := 0
	for round := 0; time.Since(start) < churnFor; round++ {
		err := testutil.Parallel(churnTenants, 16, func(i int) error {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("tenant-%04d", i*n/churnTenants), Name: fmt.Sprintf("churn-%d", round)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
			return admin.Create(ctx, p)
		})
		if err != nil {
			return "", err
		}
		pods += churnTenants
		// Every third round deletes that round's pods again, so usage goes both ways and stays
		// below the thresholds (quota: 20 pods).
		if round%3 == 2 {
			for r := round - 1; r <= round; r++ {
				if err := testutil.Parallel(churnTenants, 16, func(i int) error {
					return client.IgnoreNotFound(admin.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("tenant-%04d", i*n/churnTenants), Name: fmt.Sprintf("churn-%d", r)}}))
				}); err != nil {
					return "", err
				}
			}
		}
		time.Sleep(churnEvery)
	}
	elapsed := time.Since(start)
	perTenant := stopCounting()
	after, err := snapshotWrites(ctx, cp, op)
	if err != nil {
		return "", err
	}
	// kube-apiserver counts the tenants' status writes (only the operator writes them); the
	// operator's client counts all of its writes. kube-controller-manager's (quota status) and
	// the benchmark's (pods) are in neither.
	writes := after.since(before, nil)
	var statusWrites float64
	for k, v := range writes.apiserver {
		if strings.HasSuffix(k, " tenantnamespaces/status") {
			statusWrites += v
		}
	}
	other := writes.operator - statusWrites
	most := 0
	for _, c := range perTenant {
		most = max(most, c)
	}
	perTenantMinute := float64(statusWrites) / churnTenants / elapsed.Minutes()
	return fmt.Sprintf(`  pod churn, %d pods in %d tenants    %8.0f s   (below the thresholds; kube-controller-manager counting)
  tenant status writes during it     %8.0f   = %.2f per churned tenant per minute (goal <= 1; most for one tenant in the %.0f s, from a watch: %d); the operator's other writes %.0f
`, pods, churnTenants, elapsed.Seconds(), statusWrites, perTenantMinute, elapsed.Seconds(), most, other), nil
}

// countStatusChanges counts, per tenant, the changes a watch of TenantNamespaces sees from now
// until stop is called. The benchmark writes no tenant meanwhile, so they are the operator's.
func countStatusChanges(ctx context.Context, cfg *rest.Config) (stop func() map[string]int, err error) {
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return nil, err
	}
	// From now on: the resourceVersion of a one-item list is the current one.
	var now platformv1alpha1.TenantNamespaceList
	if err := wc.List(ctx, &now, client.Limit(1)); err != nil {
		return nil, err
	}
	w, err := wc.Watch(ctx, &platformv1alpha1.TenantNamespaceList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: now.ResourceVersion}})
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if t, ok := ev.Object.(*platformv1alpha1.TenantNamespace); ok && ev.Type == watch.Modified {
				counts[t.Name]++
			}
		}
	}()
	return func() map[string]int {
		w.Stop()
		<-done
		return counts
	}, nil
}
