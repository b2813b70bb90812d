package tenantnamespace

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/metrics"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Finalizer holds a TenantNamespace with deletionPolicy Delete until its namespace is deleted
// (see tenancy.Finalizer).
const Finalizer = tenancy.Finalizer

// Reasons shared by the part conditions. Events carry the reason of the condition they
// explain, and say in their action what the operator did (Create, Repair, Apply, Delete).
const (
	ReasonApplyFailed  = "ApplyFailed"
	ReasonNotRequested = "NotRequested"
	// ReasonClassNotFound and the other reasons of a tenant waiting for a guard rail are
	// tenancy's (TeamNotFound, ClassNotAllowed, OverBudget).
	ReasonClassNotFound = tenancy.ReasonClassNotFound
)

// classIndex indexes TenantNamespaces by spec.class ("" for the default class).
const classIndex = "spec.class"

// Options configure the reconciler.
type Options struct {
	// OperatorNamespace is protected: no tenant may manage it.
	OperatorNamespace string
	// ProtectedNamespaces are further names no tenant may manage (default and kube-* always
	// are).
	ProtectedNamespaces []string
	// Workers is the number of tenants reconciled at once.
	Workers int
	// DNS says where the node-local cache and the cluster DNS are.
	DNS nodelocaldns.Settings
	// DNSByPolicy gives pods their DNS settings through the MutatingAdmissionPolicy
	// selfserve-tenant-dns (the namespace carries them) instead of the pod DNS webhook.
	DNSByPolicy bool
}

// Reconciler reconciles TenantNamespaces.
type Reconciler struct {
	// Client reads through the manager's cache, which holds only the objects the operator
	// manages.
	Client client.Client
	// APIReader reads the apiserver directly, to see namespaces the cache does not hold.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Options   Options
	// Monitoring reaches Datadog for the classes' baseline monitors; nil leaves them out.
	Monitoring *Monitoring

	// lastDesired tells drift (someone else changed an object) from change (the operator wants
	// something else of it now).
	lastDesired lastDesired
	// budgets hands out the places of teams' budgets.
	budgets budgets
	// pressure is the quota pressure level last decided for each tenant (by UID): the next
	// reconcile may read a cache that has not seen the status write yet, and must neither
	// announce the level again nor forget it.
	pressure sync.Map
}

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantnamespaces,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantnamespaces/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantnamespaces/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=teams,verbs=get;list;watch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=resourcequotas;limitranges,verbs=get;list;watch;create;update;patch;delete;deletecollection
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;update;patch;delete;deletecollection
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,resourceNames=admin;edit;view,verbs=bind
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete;deletecollection
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch

// SetupWithManager registers the controller: TenantNamespaces, their children (owner
// references), their namespaces (by the tenant label; a namespace never has an owner reference)
// and TenantClasses (a class change re-reconciles its tenants).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &platformv1alpha1.TenantNamespace{}, classIndex,
		func(o client.Object) []string { return []string{o.(*platformv1alpha1.TenantNamespace).Spec.Class} }); err != nil {
		return err
	}
	// A runnable without its own say runs on the leader only.
	if err := mgr.Add(manager.RunnableFunc(r.FenceEarlierReleases)); err != nil {
		return err
	}
	workers := r.Options.Workers
	if workers < 1 {
		workers = 1
	}
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Monitoring != nil {
		r.Monitoring.polled = make(chan event.GenericEvent, 1024)
		b = b.WatchesRawSource(source.Channel(r.Monitoring.polled, &handler.EnqueueRequestForObject{}))
	}
	return b.
		For(&platformv1alpha1.TenantNamespace{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&corev1.ResourceQuota{}).
		Owns(&corev1.LimitRange{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(tenantOfNamespace)).
		// A class's status (its tenant count) changes with its tenants: that must not re-queue
		// all of them. Its spec does, and so does an annotation, the usual way to ask for a resync.
		Watches(&platformv1alpha1.TenantClass{}, handler.EnqueueRequestsFromMapFunc(r.tenantsOfClass),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&appsv1.DaemonSet{}, handler.EnqueueRequestsFromMapFunc(r.allTenants), builder.WithPredicates(cacheReadinessChanged)).
		// A Team's members (owners who stop being members lose their binding), classes and budget.
		Watches(&platformv1alpha1.Team{}, handler.EnqueueRequestsFromMapFunc(r.tenantsOfTeam), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A tenant that goes frees a place in its team's budget for those waiting.
		Watches(&platformv1alpha1.TenantNamespace{}, handler.EnqueueRequestsFromMapFunc(r.waitingOfTeam), builder.WithPredicates(leaving)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

func tenantOfNamespace(_ context.Context, o client.Object) []reconcile.Request {
	if name := o.GetLabels()[platformv1alpha1.LabelTenant]; name != "" {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
	}
	return nil
}

// tenantsOfClass maps a class to the tenants that name it and, since any class may be or
// become the default, to the tenants that name none.
func (r *Reconciler) tenantsOfClass(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, class := range []string{o.GetName(), ""} {
		var list platformv1alpha1.TenantNamespaceList
		if err := r.Client.List(ctx, &list, client.MatchingFields{classIndex: class}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing tenants of class", "class", o.GetName())
			continue
		}
		for _, t := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: t.Name}})
		}
	}
	return reqs
}

// tenantsOfTeam maps a Team to its tenants.
func (r *Reconciler) tenantsOfTeam(ctx context.Context, o client.Object) []reconcile.Request {
	return r.teamTenants(ctx, o.GetName(), func(*platformv1alpha1.TenantNamespace) bool { return true })
}

// waitingOfTeam maps a tenant that is going to the tenants of its team waiting for a place.
func (r *Reconciler) waitingOfTeam(ctx context.Context, o client.Object) []reconcile.Request {
	return r.teamTenants(ctx, o.(*platformv1alpha1.TenantNamespace).Spec.Team, func(t *platformv1alpha1.TenantNamespace) bool {
		ready := meta.FindStatusCondition(t.Status.Conditions, platformv1alpha1.ConditionReady)
		return t.Name != o.GetName() && (ready == nil || ready.Reason == tenancy.ReasonOverBudget)
	})
}

func (r *Reconciler) teamTenants(ctx context.Context, team string, keep func(*platformv1alpha1.TenantNamespace) bool) []reconcile.Request {
	var list platformv1alpha1.TenantNamespaceList
	if err := r.Client.List(ctx, &list, client.MatchingFields{tenancy.TeamIndex: team}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing tenants of team", "team", team)
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if keep(&list.Items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: list.Items[i].Name}})
		}
	}
	return reqs
}

// leaving passes a tenant's deletion, or the start of it.
var leaving = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
	},
}

// allTenants maps a change of the node-local-dns DaemonSet (the cache holds no other) to every
// tenant: any of them may enable the cache through its class.
func (r *Reconciler) allTenants(ctx context.Context, _ client.Object) []reconcile.Request {
	var list platformv1alpha1.TenantNamespaceList
	if err := r.Client.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing tenants for a node-local-dns change")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, t := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: t.Name}})
	}
	return reqs
}

// Reconcile brings one TenantNamespace's namespace and children in line with its spec and
// class, and writes its status once at the end.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	tenant := &platformv1alpha1.TenantNamespace{}
	if err := r.Client.Get(ctx, req.NamespacedName, tenant); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted with Retain (no finalizer holds it): release its namespace now. The
			// namespace watch brings this request back after a restart too.
			r.lastDesired.forget(req.Name)
			r.budgets.release(req.Name)
			metrics.QuotaUsedRatio.DeletePartialMatch(prometheus.Labels{"tenant": req.Name})
			r.monitorsGone(ctx, req.Name, "")
			return ctrl.Result{}, r.releaseOrphan(ctx, req.Name)
		}
		return ctrl.Result{}, err
	}
	// An earlier tenant of this name is gone: its monitors go.
	r.monitorsGone(ctx, req.Name, tenant.UID)
	before := tenant.DeepCopy()
	s := &scope{tenant: tenant}

	defer func() {
		if !tenant.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(tenant, Finalizer) {
			return // released or deleted; nothing left to report
		}
		summarize(tenant, retErr)
		if equality.Semantic.DeepEqual(before.Status, tenant.Status) {
			return
		}
		if err := r.Client.Status().Patch(ctx, tenant, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, fmt.Errorf("patching status: %w", err))
		}
	}()

	if !tenant.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	// Only Delete needs a finalizer: the namespace must go before the tenant does. A Retain
	// tenant is released after it is gone (releaseOrphan), so deleting one never waits on the
	// operator, and creating one costs no extra write.
	if tenant.Spec.DeletionPolicy == platformv1alpha1.DeletionPolicyDelete && !controllerutil.ContainsFinalizer(tenant, Finalizer) {
		patch := client.MergeFrom(tenant.DeepCopy())
		controllerutil.AddFinalizer(tenant, Finalizer)
		if err := r.Client.Patch(ctx, tenant, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		before.Finalizers = tenant.Finalizers
		before.ResourceVersion = tenant.ResourceVersion
	}

	// The guard rails come first: nothing is provisioned for a tenant whose Team is missing,
	// whose class is missing or not one its team may use, or whose team has no budget left.
	team, class, err := tenancy.Resolve(ctx, r.Client, tenant)
	if err == nil {
		s.team, s.class = team, class
		tenant.Status.Class = class.Name
		s.Settings = tenancy.Effective(tenant, class)
		// What goes beyond the class waits for approval: capped meanwhile (the budget counts
		// what the tenant holds), and a new tenant is not created at all.
		wait, fitErr := r.reconcileClassFit(ctx, s)
		if fitErr != nil {
			return ctrl.Result{}, fitErr
		}
		if wait {
			for _, c := range partConditions {
				s.setCondition(c, metav1.ConditionUnknown, tenancy.ReasonAwaitingApproval, "nothing is created until a platform admin approves the spec (see ApprovalRequired)")
			}
			return ctrl.Result{}, nil
		}
		err = r.budgets.claim(ctx, r, s)
		if err == nil {
			s.overBudget, err = r.budgets.admitQuota(ctx, r, s)
		}
	}
	var refusal *tenancy.Refusal
	if errors.As(err, &refusal) {
		for _, c := range partConditions {
			s.setCondition(c, metav1.ConditionUnknown, refusal.Reason, refusal.Message)
		}
		if refusal.Reason != tenancy.ReasonOverBudget {
			if tenant.Spec.Class != "" {
				tenant.Status.Class = "" // a default class it was given stays its class
			}
			// The Team, class and tenant watches bring the tenant back when that changes.
			return ctrl.Result{}, nil
		}
		// So do they when a tenant of the team goes; a released namespace of the team that is
		// deleted is not watched (the cache holds managed namespaces only): look again later.
		return ctrl.Result{RequeueAfter: budgetRecheck}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}

	if err := r.reconcileDNS(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if res, err := r.reconcileNamespace(ctx, s); err != nil || !res.IsZero() {
		for _, c := range childConditions {
			s.setCondition(c, metav1.ConditionUnknown, "NamespaceNotReady", "waiting for the namespace")
		}
		return res, err
	}
	if s.created {
		r.eventf(tenant, corev1.EventTypeNormal, ReasonProvisioned, "Create", "Created namespace %s for team %s", tenant.Name, tenant.Spec.Team)
	}

	// The children are independent of one another: apply them concurrently, and report every
	// failure rather than the first.
	parts := []func(context.Context, *scope) (ctrl.Result, error){r.reconcileRBAC, r.reconcileQuota, r.reconcileLimits, r.reconcileNetwork}
	errs := make([]error, len(parts))
	results := make([]ctrl.Result, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Go(func() { results[i], errs[i] = part(ctx, s) })
	}
	wg.Wait()
	for _, d := range s.drifted {
		r.eventf(tenant, corev1.EventTypeNormal, ReasonProvisioned, "Repair", "Restored %s, changed or deleted outside selfserve", d)
	}
	if err := errors.Join(errs...); err != nil {
		r.eventf(tenant, corev1.EventTypeWarning, ReasonApplyFailed, "Apply", "%v", err)
		return ctrl.Result{}, err
	}
	r.lastDesired.retain(tenant, s.inPlace)
	if !s.capped && s.overBudget == "" {
		tenant.Status.ProvisionedSpec = s.specHash
	}
	results = append(results, r.reconcileMonitors(ctx, s))
	// The soonest a part asked to come back (the quota usage held back below the thresholds,
	// monitors that could not be synced).
	var soonest ctrl.Result
	for _, res := range results {
		if res.RequeueAfter > 0 && (soonest.RequeueAfter == 0 || res.RequeueAfter < soonest.RequeueAfter) {
			soonest = res
		}
	}
	return soonest, nil
}

// budgetRecheck is how often a tenant waiting for budget (a place, or room for its quota) looks
// again: a released namespace of its team that is deleted, or another tenant that shrinks, is
// seen by no watch.
const budgetRecheck = 30 * time.Second

// childConditions are set by the parts that live inside the namespace.
var childConditions = []string{
	platformv1alpha1.ConditionRBACReady,
	platformv1alpha1.ConditionQuotaReady,
	platformv1alpha1.ConditionLimitsReady,
	platformv1alpha1.ConditionNetworkReady,
}

// partConditions are the conditions the sub-reconcilers set; Ready summarises them, in order.
var partConditions = append([]string{platformv1alpha1.ConditionNamespaceReady}, append(childConditions, platformv1alpha1.ConditionDNSReady)...)

// noteDrift records that an object someone else changed or deleted was restored.
func (r *Reconciler) noteDrift(s *scope, kind, name string) {
	metrics.DriftCorrections.WithLabelValues(kind).Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drifted = append(s.drifted, kind+" "+name)
}

// notRequested removes a child the spec and the class no longer ask for and reports the part
// as fine without it.
func (r *Reconciler) notRequested(ctx context.Context, s *scope, exists bool, cur client.Object, condition, msg string) error {
	if exists {
		if err := r.deleteChild(ctx, cur); err != nil {
			return err
		}
	}
	s.setCondition(condition, metav1.ConditionTrue, ReasonNotRequested, msg)
	return nil
}

// deleteChild deletes a child the spec no longer asks for; a child already gone is fine.
func (r *Reconciler) deleteChild(ctx context.Context, obj client.Object) error {
	if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}

// deleteUnwanted deletes the tenant's children of one kind whose names are not desired.
func deleteUnwanted[V any](ctx context.Context, r *Reconciler, existing []client.Object, desired map[string]V) error {
	for _, o := range existing {
		if _, ok := desired[o.GetName()]; !ok {
			if err := r.deleteChild(ctx, o); err != nil {
				return err
			}
		}
	}
	return nil
}

func toObjects[T any, PT interface {
	*T
	client.Object
}](items []T) []client.Object {
	out := make([]client.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}
