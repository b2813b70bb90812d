package controlplane

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/selfserve-dev/selfserve/internal/operator"
)

// Operator is selfserve's manager running in this process against the control plane.
type Operator struct {
	// Manager is the running manager; its client reads through the cache, as the webhooks and
	// controllers do.
	Manager ctrl.Manager
	cancel  context.CancelFunc
	done    chan error
}

// StartOperator runs the operator's manager against the control plane, serving the webhooks
// that Start installed. Metrics and probes are off unless opts sets them. It returns once the
// cache has synced.
func (cp *ControlPlane) StartOperator(ctx context.Context, opts operator.Options) (*Operator, error) {
	if opts.EnableWebhooks {
		opts.WebhookHost, opts.WebhookPort, opts.WebhookCertDir = cp.WebhookServing()
	}
	mgr, err := operator.NewManager(cp.Config, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	op := &Operator{Manager: mgr, cancel: cancel, done: make(chan error, 1)}
	go func() { op.done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		op.Stop()
		return nil, fmt.Errorf("the operator's cache did not sync")
	}
	return op, nil
}

// TestOptions are operator options for tests: webhooks on, metrics, probes and leader election
// off.
func TestOptions() operator.Options {
	opts := operator.DefaultOptions()
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	return opts
}

// Stop stops the manager and waits for it.
func (op *Operator) Stop() error {
	op.cancel()
	return <-op.done
}
