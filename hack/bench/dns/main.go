// Command bench-dns measures what the NodeLocal DNSCache Pod webhook adds to pod creation
// (`make bench-dns`): a sustained stream of pod creations through the real kube-apiserver,
// alternating between a tenant namespace with injection and one without, and the p50/p99
// latency of each. The operator is the manager binary (./cmd) in its own process, as a user
// deploys it. --build-load runs `go build -a std` in a loop meanwhile, the load of a CI job on
// the same machine. It prints figures; it asserts nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/testutil"
)

func main() {
	rate := flag.Int("rate", 200, "Pod creations per second, split evenly between the two namespaces.")
	duration := flag.Duration("duration", 30*time.Second, "How long the stream runs.")
	buildLoad := flag.Bool("build-load", false, "Load the machine with `go build -a std` in a loop while the stream runs.")
	injection := flag.String("injection", "policy", "How pods get the settings: policy (the MutatingAdmissionPolicy) or webhook (the operator's pod DNS webhook); the operator's --dns-injection.")
	flag.Parse()
	testutil.RunBenchmark("bench-dns", func(ctx context.Context) error { return run(ctx, *rate, *duration, *buildLoad, *injection) })
}

func run(ctx context.Context, rate int, duration time.Duration, buildLoad bool, injection string) error {
	loadBefore := testutil.MachineLoad()
	fmt.Printf("Starting the local control plane %s ...\n", controlplane.Version)
	cp, err := controlplane.Start(controlplane.Options{Webhooks: true})
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	fmt.Println("Building and starting the operator (./cmd) as its own process, with its webhooks ...")
	op, err := cp.StartOperatorProcess(ctx, nil, append(cp.WebhookFlags(), "--dns-injection="+injection)...)
	if err != nil {
		return err
	}
	defer func() { _ = op.Stop() }()
	c, err := cp.Client() // no client-side limit, like the operator
	if err != nil {
		return err
	}
	if err := setUp(ctx, c); err != nil {
		return err
	}
	if buildLoad {
		fmt.Println("Loading the machine: go build -a std in a loop ...")
		stopLoad, err := loadMachine(ctx)
		if err != nil {
			return err
		}
		defer stopLoad()
		time.Sleep(10 * time.Second) // the compilers are busy before the stream starts
	}
	loadDuring := testutil.MachineLoad()
	callsBefore, err := webhookCalls(ctx, cp, op)
	if err != nil {
		return err
	}

	fmt.Printf("Streaming %d pod creations/s for %s, alternating between namespace fast (injection) and plain (none) ...\n", rate, duration)
	latencies := map[string][]time.Duration{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed int
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for time.Since(start) < duration && ctx.Err() == nil {
		<-tick.C
		ns := []string{"fast", "plain"}[sent%2]
		name := fmt.Sprintf("p-%06d", sent)
		sent++
		wg.Go(func() {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
			}
			t0 := time.Now()
			err := c.Create(ctx, pod)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				return
			}
			if ns == "fast" && pod.Spec.DNSPolicy != corev1.DNSNone {
				failed++
				return
			}
			latencies[ns] = append(latencies[ns], d)
		})
	}
	elapsed := time.Since(start)
	wg.Wait()
	callsAfter, err := webhookCalls(ctx, cp, op)
	if err != nil {
		return err
	}
	seen, served := callsAfter.seen.minus(callsBefore.seen), callsAfter.served.minus(callsBefore.served)

	fast, plain := percentiles(latencies["fast"]), percentiles(latencies["plain"])
	fmt.Printf(`
Pod DNS injection by %s: admission latency, %d pods in %.1f s (%.0f/s sustained), %d failed or not injected
  namespace   pods    p50       p99
  with DNS    %5d   %6.1f ms %6.1f ms
  without     %5d   %6.1f ms %6.1f ms
  added       p50 %+.1f ms, p99 %+.1f ms (goal: p99 added <= 1 ms quiet, <= 2 ms under --build-load by policy; <= 5 ms by webhook)
`, injection, sent, elapsed.Seconds(), float64(sent)/elapsed.Seconds(), failed,
		len(latencies["fast"]), ms(fast[0]), ms(fast[1]), len(latencies["plain"]), ms(plain[0]), ms(plain[1]),
		ms(fast[0]-plain[0]), ms(fast[1]-plain[1]))
	fmt.Printf(`  the webhook call as kube-apiserver sees it: %d calls, mean %.2f ms, %d over 5 ms, %d over 25 ms
  the handler in the operator:                %d calls, mean %.3f ms, %d over 1 ms, %d over 10 ms
`, seen.count, 1000*seen.sum/float64(max(seen.count, 1)), seen.over(0.005), seen.over(0.025),
		served.count, 1000*served.sum/float64(max(served.count, 1)), served.over(0.001), served.over(0.01))
	fmt.Printf("  machine: before %s; stream start %s; after %s\n", loadBefore, loadDuring, testutil.MachineLoad())
	return nil
}

// loadMachine runs `go build -a std` over and over, with its own build cache so that it always
// compiles, until stop is called.
func loadMachine(ctx context.Context) (stop func(), err error) {
	cache, err := os.MkdirTemp("", "bench-dns-gocache-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cmd := exec.CommandContext(ctx, "go", "build", "-a", "std")
			cmd.Env = append(os.Environ(), "GOCACHE="+cache)
			_ = cmd.Run()
		}
	}()
	return func() {
		cancel()
		<-done
		_ = os.RemoveAll(cache)
	}, nil
}

// calls are the webhook's calls counted at both ends: kube-apiserver's
// apiserver_admission_webhook_admission_duration_seconds (the round trip, TLS and the
// operator's scheduling included) and the operator's controller_runtime_webhook_latency_seconds
// (its handler alone).
type calls struct{ seen, served histogram }

func webhookCalls(ctx context.Context, cp *controlplane.ControlPlane, op *controlplane.OperatorProcess) (calls, error) {
	apiserver, err := cp.APIServerMetrics(ctx)
	if err != nil {
		return calls{}, err
	}
	operator, err := op.Metrics()
	if err != nil {
		return calls{}, err
	}
	return calls{
		seen:   histogramOf(apiserver, "apiserver_admission_webhook_admission_duration_seconds", map[string]string{"name": "mpoddns.platform.selfserve.dev"}),
		served: histogramOf(operator, "controller_runtime_webhook_latency_seconds", map[string]string{"webhook": "/mutate-v1-pod-dns"}),
	}, nil
}

// histogram is a Prometheus histogram's count, sum and cumulative buckets (by upper bound).
type histogram struct {
	count   uint64
	sum     float64
	buckets map[float64]uint64
}

func histogramOf(f controlplane.Families, name string, labels map[string]string) histogram {
	h := histogram{buckets: map[float64]uint64{}}
	for _, m := range f.Series(name, labels) {
		hist := m.GetHistogram()
		h.count += hist.GetSampleCount()
		h.sum += hist.GetSampleSum()
		for _, b := range hist.GetBucket() {
			h.buckets[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	return h
}

func (h histogram) minus(before histogram) histogram {
	out := histogram{count: h.count - before.count, sum: h.sum - before.sum, buckets: map[float64]uint64{}}
	for le, c := range h.buckets {
		out.buckets[le] = c - before.buckets[le]
	}
	return out
}

// over counts the observations above a bucket bound.
func (h histogram) over(le float64) uint64 {
	for bound, c := range h.buckets {
		if math.Abs(bound-le) < le*1e-9 {
			return h.count - c
		}
	}
	return 0
}

// setUp creates the cluster DNS, a ready node-local-dns DaemonSet, a class without quota and
// two tenants, one with the cache enabled, and waits until the first is labelled.
func setUp(ctx context.Context, c client.Client) error {
	labels := map[string]string{"k8s-app": "node-local-dns"}
	objs := []client.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.10", Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "node-local-dns", Namespace: "kube-system", Labels: labels},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "node-cache", Image: "node-cache"}}},
			}}},
		&platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}},
		testutil.Team("bench", "bench"),
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	ds := objs[1].(*appsv1.DaemonSet)
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}
	if err := c.Status().Update(ctx, ds); err != nil {
		return err
	}
	for _, name := range []string{"fast", "plain"} {
		t := &platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       platformv1alpha1.TenantNamespaceSpec{Team: "bench", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-bench"}}},
		}
		if name == "fast" {
			t.Spec.DNS = &platformv1alpha1.DNSConfig{NodeLocalCache: platformv1alpha1.NodeLocalCacheEnabled}
		}
		if err := c.Create(ctx, t); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var ns corev1.Namespace
		var t platformv1alpha1.TenantNamespace
		// Injection works once a dry-run pod in fast gets the settings (the policy path starts
		// within moments of the namespace's label).
		probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "fast"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
		if c.Get(ctx, client.ObjectKey{Name: "fast"}, &ns) == nil && ns.Labels[nodelocaldns.LabelInjection] != "" &&
			c.Create(ctx, probe, client.DryRunAll) == nil && probe.Spec.DNSPolicy == corev1.DNSNone &&
			c.Get(ctx, client.ObjectKey{Name: "plain"}, &t) == nil && meta.IsStatusConditionTrue(t.Status.Conditions, platformv1alpha1.ConditionReady) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the tenants were not ready within a minute")
}

// percentiles returns p50 and p99.
func percentiles(d []time.Duration) [2]time.Duration {
	if len(d) == 0 {
		return [2]time.Duration{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return [2]time.Duration{at(0.50), at(0.99)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
