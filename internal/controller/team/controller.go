package team

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Reconciler writes Team status.
type Reconciler struct {
	// Client reads through the manager's cache (tenants indexed by team, managed namespaces).
	Client client.Client
	// APIReader reads the unmanaged namespaces of its ServiceAccount members.
	APIReader client.Reader
	// Unmanaged holds the metadata of the namespaces labelled for a team that the operator does
	// not manage (released ones, SREs' own), which the manager's cache does not: a list of them
	// from the apiserver scans every namespace of the cluster.
	Unmanaged client.Reader
	// Protected are the namespaces, besides default and kube-*, whose ServiceAccounts never act
	// for a team.
	Protected tenancy.Protected
	// Recorder says, in an Event, when the team's Ready reason changes (Accepted, OverBudget).
	Recorder events.EventRecorder
	// Dashboards reaches Datadog for the Teams' dashboards; nil leaves them out.
	Dashboards *Dashboards

	// pace gathers a burst of tenant changes (a GitOps sync of many tenants) into one status
	// write per team, later for a larger team (tenancy.SumPace).
	pace *tenancy.Pace
}

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=teams,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=teams/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantnamespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=serviceslos,verbs=get;list;watch

// SetupWithManager registers the controller: a team is reconciled when its spec changes and,
// after a short delay, when one of its tenants comes, goes or changes. Its own status writes
// do not bring it back (generation predicate). It needs the tenancy.TeamIndex, which the
// operator registers.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.pace = tenancy.SumPace()
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Dashboards != nil {
		r.Dashboards.polled = make(chan event.GenericEvent, 1024)
		b = b.WatchesRawSource(source.Channel(r.Dashboards.polled, &handler.EnqueueRequestForObject{})).
			Watches(&platformv1alpha1.ServiceSLO{}, r.onSLOs())
	}
	return b.
		Named("team").
		For(&platformv1alpha1.Team{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&platformv1alpha1.TenantNamespace{}, tenancy.OnTenants(r.pace,
			func(t *platformv1alpha1.TenantNamespace) string { return t.Spec.Team }, nil)).
		Complete(r)
}

// Reconcile sums the team's tenants and writes its status when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	team := &platformv1alpha1.Team{}
	if err := r.Client.Get(ctx, req.NamespacedName, team); err != nil {
		if apierrors.IsNotFound(err) {
			r.pace.Forget(req.Name)
			r.dashboardGone(ctx, req.Name, "")
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	r.dashboardGone(ctx, req.Name, team.UID)
	var tenants platformv1alpha1.TenantNamespaceList
	// Read only: not copied out of the cache (a team of a thousand tenants is read every second
	// while they change).
	if err := r.Client.List(ctx, &tenants, client.MatchingFields{tenancy.TeamIndex: team.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	r.pace.Summed(team.Name, len(tenants.Items))
	namespaces, err := tenancy.ListTeamNamespaces(ctx, r.Client, team.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	classes := tenancy.NewClasses(r.Client)
	var held tenancy.Held
	var waiting int
	for i := range tenants.Items {
		t := &tenants.Items[i]
		if !t.DeletionTimestamp.IsZero() {
			continue
		}
		switch {
		case namespaces.Holds(t):
			held.Add(t.Name, classes.HeldQuota(ctx, t))
		case isWaiting(t):
			waiting++
		}
	}
	// Namespaces the team released, and managed ones whose tenant is gone, still hold places.
	if err := held.AddReleased(ctx, r.Unmanaged, team.Name, namespaces, ""); err != nil {
		return ctrl.Result{}, err
	}
	ignored, err := ignoredMembers(ctx, tenancy.CacheFirst{Cache: r.Client, API: r.APIReader}, team, r.Protected)
	if err != nil {
		return ctrl.Result{}, err
	}
	before := team.DeepCopy()
	summarize(team, held, waiting, ignored)
	res := r.reconcileDashboard(ctx, team, tenants.Items, namespaces)
	if equality.Semantic.DeepEqual(before.Status, team.Status) {
		return res, nil
	}
	// The whole status, replaced, once: a merge patch computed from the difference leaves out
	// counts of 0 on a team whose status was never written (kubectl would show blanks), and a
	// merge patch of the whole status would keep map keys that are gone (a resource no longer
	// capped). A conflict (the SREs changed the spec meanwhile) is retried by the work queue.
	if err := r.Client.Status().Update(ctx, team); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if now, was := readyOf(team), readyOf(before); now != nil && (was == nil || was.Reason != now.Reason) {
		typ := corev1.EventTypeNormal
		if now.Status != metav1.ConditionTrue {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(team, nil, typ, now.Reason, "Resolve", "%s", now.Message)
	}
	return res, nil
}

// ignoredMembers says which members act for nothing, by the rules tenancy.IsMember applies at
// every request: the Team webhook refuses them now, but a Team admitted before keeps them, and a
// namespace can come to belong to another team after its ServiceAccount was listed.
func ignoredMembers(ctx context.Context, r client.Reader, team *platformv1alpha1.Team, p tenancy.Protected) ([]string, error) {
	errs := tenancy.CheckMembers(team, p)
	taken, err := tenancy.CheckMemberNamespaces(ctx, r, team)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range append(errs, taken...) {
		out = append(out, e.Field+": "+e.Detail)
	}
	return out, nil
}

func readyOf(t *platformv1alpha1.Team) *metav1.Condition {
	return meta.FindStatusCondition(t.Status.Conditions, platformv1alpha1.ConditionReady)
}
