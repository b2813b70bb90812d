package tenantclass

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// resolvedClassIndex indexes TenantNamespaces by the class the operator resolved for them
// (status.class): a tenant that names no class counts for the default class.
const resolvedClassIndex = "status.class"

// Reconciler writes TenantClass status.
type Reconciler struct {
	// Client reads through the manager's cache.
	Client   client.Client
	Recorder events.EventRecorder

	// pace gathers a burst of tenant changes (a GitOps sync of many tenants) into one status
	// write per class, later for a larger class (tenancy.SumPace).
	pace *tenancy.Pace
}

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantclasses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantnamespaces,verbs=get;list;watch

// SetupWithManager registers the controller: a class is reconciled when any class's spec
// changes (the default may have moved) and, after a short delay, when one of its tenants comes,
// goes or changes whether it fits the class. Status, label and annotation changes of classes
// are ignored: the class's own status write would otherwise bring it straight back, and undo
// the delay that gathers tenant changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.pace = tenancy.SumPace()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &platformv1alpha1.TenantNamespace{}, resolvedClassIndex, resolvedClass); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("tenantclass").
		Watches(&platformv1alpha1.TenantClass{}, handler.EnqueueRequestsFromMapFunc(r.allClasses), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&platformv1alpha1.TenantNamespace{}, tenancy.OnTenants(r.pace,
			func(t *platformv1alpha1.TenantNamespace) string { return t.Status.Class },
			// Updates that move it to another class or change whether it fits its class.
			func(old, cur *platformv1alpha1.TenantNamespace) bool {
				return old.Status.Class != cur.Status.Class || fits(old) != fits(cur)
			})).
		Complete(r)
}

func resolvedClass(o client.Object) []string {
	return []string{o.(*platformv1alpha1.TenantNamespace).Status.Class}
}

// allClasses maps a class change to every class, itself included: only the classes together
// say which one is the default.
func (r *Reconciler) allClasses(ctx context.Context, _ client.Object) []reconcile.Request {
	var list platformv1alpha1.TenantClassList
	if err := r.Client.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing TenantClasses")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, c := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: c.Name}})
	}
	return reqs
}

// Reconcile counts the class's tenants and writes its status when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	class := &platformv1alpha1.TenantClass{}
	if err := r.Client.Get(ctx, req.NamespacedName, class); err != nil {
		if apierrors.IsNotFound(err) {
			r.pace.Forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var tenants platformv1alpha1.TenantNamespaceList
	// Read only: not copied out of the cache (a class may have ten thousand tenants).
	if err := r.Client.List(ctx, &tenants, client.MatchingFields{resolvedClassIndex: class.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	r.pace.Summed(class.Name, len(tenants.Items))
	var classes platformv1alpha1.TenantClassList
	if err := r.Client.List(ctx, &classes); err != nil {
		return ctrl.Result{}, err
	}
	var otherDefaults []string
	for _, c := range classes.Items {
		if c.Spec.IsDefault && c.Name != class.Name {
			otherDefaults = append(otherDefaults, c.Name)
		}
	}

	before := class.DeepCopy()
	summarize(class, tenants.Items, otherDefaults)
	if equality.Semantic.DeepEqual(before.Status, class.Status) {
		return ctrl.Result{}, nil
	}
	// The whole status, replaced, as the Team controller writes its own: a merge patch computed
	// from the difference leaves out a count of 0 on a class whose status was never written (the
	// TENANTS column and the tenants metric would stay empty). A conflict is retried by the work
	// queue.
	if err := r.Client.Status().Update(ctx, class); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if now := ready(class); ready(before).Reason != now.Reason {
		typ := corev1.EventTypeNormal
		if now.Reason == ReasonDuplicateDefault {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(class, nil, typ, now.Reason, "Resolve", "%s", now.Message)
	}
	return ctrl.Result{}, nil
}

// fits reports whether a tenant holds no more than its class allows.
func fits(t *platformv1alpha1.TenantNamespace) bool {
	return !meta.IsStatusConditionFalse(t.Status.Conditions, platformv1alpha1.ConditionWithinClass)
}
