package tenancy

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Pace spaces out the reconciles of a controller that sums up tenants (a Team's, a class's).
// Such a reconcile reads every tenant it sums, so at a fixed delay a burst of tenant changes
// costs it the number of tenants times the length of the burst: at 10,000 tenants, a class
// read all of them every second while they were created. The delay grows with what the last
// reconcile of that name summed: Base, plus Base per PerBase tenants, at most Max. A sum stays
// that late at most; what it reads per tenant change stays flat.
type Pace struct {
	Base    time.Duration
	PerBase int
	Max     time.Duration
	summed  sync.Map // name → int, the tenants its last reconcile summed
}

// SumPace is the pace of the Team's and the class's status: a second behind their tenants up to
// 250 of them, two at 250, five at 1,000, never more than ten.
func SumPace() *Pace {
	return &Pace{Base: time.Second, PerBase: 250, Max: 10 * time.Second}
}

// Summed records how many tenants the reconcile of name summed (nothing on a nil Pace: a
// reconciler not set up with a manager).
func (p *Pace) Summed(name string, n int) {
	if p != nil {
		p.summed.Store(name, n)
	}
}

// Forget drops what was recorded of name (its object is gone).
func (p *Pace) Forget(name string) {
	if p != nil {
		p.summed.Delete(name)
	}
}

// Delay is how long a change of one of name's tenants waits before name is reconciled.
func (p *Pace) Delay(name string) time.Duration {
	n := 0
	if v, ok := p.summed.Load(name); ok {
		n = v.(int)
	}
	d := p.Base
	if p.PerBase > 0 {
		d += time.Duration(int64(p.Base) * int64(n) / int64(p.PerBase))
	}
	return min(d, p.Max)
}

// OnTenants is the event handler of a controller that sums up tenants (a Team's, a class's):
// when a TenantNamespace comes or goes, and on the updates changed lets through (every update
// when nil), it enqueues the object name of the old and the new tenant names — after the pace's
// delay, so that a burst of tenant changes (a GitOps sync) becomes one reconcile. A name already
// waiting keeps its time: during a burst, name is reconciled once per delay.
func OnTenants(pace *Pace, name func(*platformv1alpha1.TenantNamespace) string, changed func(old, cur *platformv1alpha1.TenantNamespace) bool) handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	enqueue := func(q queue, o client.Object) {
		if t, ok := o.(*platformv1alpha1.TenantNamespace); ok && name(t) != "" {
			q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Name: name(t)}}, pace.Delay(name(t)))
		}
	}
	return handler.Funcs{
		CreateFunc:  func(_ context.Context, e event.CreateEvent, q queue) { enqueue(q, e.Object) },
		DeleteFunc:  func(_ context.Context, e event.DeleteEvent, q queue) { enqueue(q, e.Object) },
		GenericFunc: func(_ context.Context, e event.GenericEvent, q queue) { enqueue(q, e.Object) },
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q queue) {
			old, oldOK := e.ObjectOld.(*platformv1alpha1.TenantNamespace)
			cur, curOK := e.ObjectNew.(*platformv1alpha1.TenantNamespace)
			if !oldOK || !curOK || changed != nil && !changed(old, cur) {
				return
			}
			enqueue(q, old)
			enqueue(q, cur)
		},
	}
}
