package tenancy

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// OnTenants is the event handler of a controller that sums up tenants (a Team's, a class's):
// when a TenantNamespace comes or goes, and on the updates changed lets through (every update
// when nil), it enqueues the object name of the old and the new tenant names — after delay, so
// that a burst of tenant changes (a GitOps sync) becomes one reconcile.
func OnTenants(delay time.Duration, name func(*platformv1alpha1.TenantNamespace) string, changed func(old, cur *platformv1alpha1.TenantNamespace) bool) handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	enqueue := func(q queue, o client.Object) {
		if t, ok := o.(*platformv1alpha1.TenantNamespace); ok && name(t) != "" {
			q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Name: name(t)}}, delay)
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
