package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/selfserve-dev/selfserve/internal/operator"
)

// Operator is selfserve's manager running in this process against the control plane.
type Operator struct {
	// Manager is the running manager; its client reads through the cache, as the webhooks and
	// controllers do.
	Manager ctrl.Manager
	// Requests counts the operator's requests to the apiserver.
	Requests *RequestCounter
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
}

// RequestCounter records the operator's write requests (POST, PUT, PATCH, DELETE), so tests
// and benchmarks can tell how many it sent and which.
type RequestCounter struct {
	mu     sync.Mutex
	writes []string
}

// Writes returns the number of write requests so far. Reviews (access and token reviews, which
// the webhooks and the metrics endpoint send as POSTs) and dry runs (admission's check of the
// objects a spec makes) store nothing and are not writes.
func (c *RequestCounter) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes)
}

// WritesSince returns the write requests after the first n, as "METHOD path".
func (c *RequestCounter) WritesSince(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > len(c.writes) {
		return nil
	}
	return append([]string(nil), c.writes[n:]...)
}

func (c *RequestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		c.mu.Lock()
		if req.Method != http.MethodGet && !strings.HasSuffix(req.URL.Path, "reviews") && req.URL.Query().Get("dryRun") == "" {
			c.writes = append(c.writes, req.Method+" "+req.URL.Path)
		}
		c.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// StartOperator runs the operator's manager against the control plane, serving the webhooks
// that Start installed. Metrics and probes are off unless opts sets them. It returns once the
// cache has synced.
func (cp *ControlPlane) StartOperator(ctx context.Context, opts operator.Options) (*Operator, error) {
	if opts.EnableWebhooks {
		opts.WebhookHost, opts.WebhookPort, opts.WebhookCertDir = cp.WebhookServing()
		// The operator's namespace, as an install has it: the host webhook keeps a Lease there.
		if err := cp.ensureNamespace(ctx, opts.OperatorNamespace); err != nil {
			return nil, err
		}
	}
	counter := &RequestCounter{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.Wrap(counter.wrap)
	mgr, err := operator.NewManager(cfg, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	op := &Operator{Manager: mgr, Requests: counter, cancel: cancel, done: make(chan error, 1)}
	go func() { op.done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		op.Stop()
		return nil, fmt.Errorf("the operator's cache did not sync")
	}
	return op, nil
}

func (cp *ControlPlane) ensureNamespace(ctx context.Context, name string) error {
	c, err := cp.Client()
	if err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// TestOptions are operator options for tests: webhooks on, metrics, probes and leader election
// off.
func TestOptions() operator.Options {
	opts := operator.DefaultOptions()
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.SkipNameValidation = true
	return opts
}

// Stop stops the manager and waits for it; calling it again returns the same result.
func (op *Operator) Stop() error {
	op.stopOnce.Do(func() {
		op.cancel()
		op.stopErr = <-op.done
	})
	return op.stopErr
}

// Reconciles returns how many reconciles a controller of this process has finished, read from
// controller-runtime's reconcile_total counter.
func (op *Operator) Reconciles(controllerName string) (float64, error) {
	return Metric("controller_runtime_reconcile_total", map[string]string{"controller": controllerName})
}

// Metric sums the counters or gauges of this process's metrics registry (the one the manager's
// endpoint serves) that have the given name and at least the given label values.
func Metric(name string, labels map[string]string) (float64, error) {
	gathered, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return 0, err
	}
	families := Families{}
	for _, f := range gathered {
		families[f.GetName()] = f
	}
	return families.Sum(name, labels), nil
}

// Env is a control plane with the operator running against it and an admin client: what the
// envtest packages of the controllers share from their TestMain.
type Env struct {
	CP       *ControlPlane
	Operator *Operator
	Admin    client.Client
}

// StartEnv starts a control plane and the operator with TestOptions changed by configure (may
// be nil). The operator runs until ctx ends or Stop, and logs through ctrl.Log.
func StartEnv(ctx context.Context, cpOpts Options, configure func(*operator.Options)) (*Env, error) {
	cp, err := Start(cpOpts)
	if err != nil {
		return nil, err
	}
	opts := TestOptions()
	if configure != nil {
		configure(&opts)
	}
	op, err := cp.StartOperator(ctrl.LoggerInto(ctx, ctrl.Log), opts)
	if err != nil {
		return nil, errors.Join(err, cp.Stop())
	}
	env := &Env{CP: cp, Operator: op}
	if env.Admin, err = cp.Client(); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return env, nil
}

// Stop stops the operator, then the control plane.
func (e *Env) Stop() error {
	return errors.Join(e.Operator.Stop(), e.CP.Stop())
}

// StartOperatorWithoutWebhooks starts the operator with TestOptions and its webhooks off, as the
// controller tests run it (again, after a test stopped it).
func (cp *ControlPlane) StartOperatorWithoutWebhooks() (*Operator, error) {
	opts := TestOptions()
	opts.EnableWebhooks = false
	return cp.StartOperator(ctrl.LoggerInto(context.Background(), ctrl.Log), opts)
}
