package upgradepolicy

import (
	"context"
	"errors"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/conditions"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/internal/metrics"
	"github.com/selfserve-dev/selfserve/internal/schedule"
)

// Reconciler reconciles ClusterUpgradePolicies.
type Reconciler struct {
	Client client.Client
	// APIReader lists the namespaces of a gate's teams, which the cache does not all hold.
	APIReader client.Reader
	Discovery discovery.ServerVersionInterface
	Recorder  events.EventRecorder
	// Conn reaches Datadog for monitor gates; nil or unconfigured means those gates cannot be
	// evaluated, which the status says.
	Conn *datadog.Connection
	// Now is the clock; tests inject one.
	Now func() time.Time
	// GatePoll bounds the wait before gates are looked at again while they may change on their
	// own (a monitor leaving Alert).
	GatePoll time.Duration
	// GKE returns the client for policies that name a GKE cluster.
	GKE func(ctx context.Context) (*gke.Client, error)
	// GKETimeout bounds one sync with GKE; zero means 30 s.
	GKETimeout time.Duration

	downtimes downtimes
}

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=clusterupgradepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=clusterupgradepolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=serviceslos,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch

// SetupWithManager registers the controller. A ServiceSLO re-evaluates only the policies whose
// error-budget gates select it, and only when its labels or its budget changed: the poller
// updates every ServiceSLO's status each poll, and a policy evaluation reads nodes, Datadog and
// GKE.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	budgetOrLabels := predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*platformv1alpha1.ServiceSLO), e.ObjectNew.(*platformv1alpha1.ServiceSLO)
			return !equality.Semantic.DeepEqual(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.Status.ErrorBudget, n.Status.ErrorBudget)
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.ClusterUpgradePolicy{}).
		Watches(&platformv1alpha1.ServiceSLO{}, handler.EnqueueRequestsFromMapFunc(r.policiesGating), builder.WithPredicates(budgetOrLabels)).
		Complete(r)
}

// policiesGating maps a ServiceSLO to the policies with an error-budget gate that selects it.
func (r *Reconciler) policiesGating(ctx context.Context, o client.Object) []reconcile.Request {
	var list platformv1alpha1.ClusterUpgradePolicyList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, p := range list.Items {
		if p.Spec.Gates == nil {
			continue
		}
		for _, g := range p.Spec.Gates.ErrorBudget {
			if sel, err := metav1.LabelSelectorAsSelector(&g.Selector); err == nil && sel.Matches(labels.Set(o.GetLabels())) {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: p.Name}})
				break
			}
		}
	}
	return out
}

// scope is what one evaluation of a policy reads and decides; the steps fill it in order.
type scope struct {
	policy     *platformv1alpha1.ClusterUpgradePolicy
	now        time.Time
	windows    []schedule.Window
	exclusions []schedule.Exclusion
	blockers   []platformv1alpha1.GateBlocker
	// hold is the exclusion GKE gets while a gate blocks (or the policy is suspended).
	hold *gke.Gate
	// soaked is when the first upstream soak still running ends.
	soaked time.Time
	// next is when the policy must be evaluated again by itself.
	next time.Time
	// answer is the decision reconcileAnswer reached.
	answer Answer
}

// Reconcile evaluates the policy at the current instant. Its steps each set their part of the
// status and their own condition; the deferred function computes Ready from those and writes
// the status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	p := &platformv1alpha1.ClusterUpgradePolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.UpgradeAllowed.DeleteLabelValues(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := p.DeepCopy()
	defer func() {
		if conditions.Summarize(&p.Status.Conditions, p.Generation, summarize(p)) {
			p.Status.ObservedGeneration = p.Generation
		}
		if err := r.patchStatus(ctx, before, p); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	s := &scope{policy: p, now: r.Now()}
	var err error
	if s.windows, s.exclusions, err = schedule.FromSpec(p.Spec); err != nil {
		// The schema admits only loadable zones and valid rules; this is a bug or a stale tz
		// database, and retrying will not help.
		for _, c := range partConditions {
			setCondition(p, c, metav1.ConditionFalse, ReasonInvalidSchedule, err.Error())
		}
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	// The answer is written whatever GKE says, and a GKE failure is retried without hiding it.
	// The cluster's version comes first: the rollout compares the upstreams' with it.
	steps := []func(context.Context, *scope) (ctrl.Result, error){r.observeCluster, r.reconcileGates, r.reconcileAnswer, r.reconcileProvider, r.reconcileDowntime}
	var errs []error
	for _, step := range steps {
		if _, err := step(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// Returned, so the work queue retries with its (capped) backoff rather than at the next
		// window edge, days later, while GKE keeps a stale policy.
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.requeueAfter(p, s.next, s.now)}, nil
}

// reconcileAnswer decides whether upgrades are allowed now and sets UpgradeAllowed (with an
// event when the answer changes), the current and next window, the exclusions in force, the
// gauge, the hold GKE gets, and when the policy is evaluated next.
func (r *Reconciler) reconcileAnswer(_ context.Context, s *scope) (ctrl.Result, error) {
	p := s.policy
	ans := Decide(p.Spec.Suspend, s.windows, s.exclusions, s.blockers, s.now)
	s.answer = ans
	p.Status.CurrentWindow = interval(ans.Current)
	p.Status.NextWindow = interval(ans.Next)
	p.Status.ActiveExclusions = nil
	for _, e := range ans.Active {
		end := metav1.NewTime(e.End)
		p.Status.ActiveExclusions = append(p.Status.ActiveExclusions, platformv1alpha1.ActiveExclusion{Name: e.Name, Scope: platformv1alpha1.UpgradeScope(e.Scope), End: &end})
	}
	s.hold = gateHold(p, s.blockers, s.now)
	s.next = r.nextEvaluation(p, ans, s.hold, s.soaked, s.now)
	p.Status.NextEvaluation = nil
	if !s.next.IsZero() {
		t := metav1.NewTime(s.next)
		p.Status.NextEvaluation = &t
	}

	status := metav1.ConditionFalse
	if ans.Allowed {
		status = metav1.ConditionTrue
	}
	// A copy: SetStatusCondition updates the condition in place.
	var prev *metav1.Condition
	if c := meta.FindStatusCondition(p.Status.Conditions, platformv1alpha1.ConditionUpgradeAllowed); c != nil {
		prev = c.DeepCopy()
	}
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{
		Type: platformv1alpha1.ConditionUpgradeAllowed, Status: status, Reason: ans.Reason, Message: ans.Message, ObservedGeneration: p.Generation,
	})
	// An Event for every change of the answer, and for a new answer to a changed spec (the
	// windows were edited: OutsideWindow names another next window).
	if prev == nil || prev.Status != status || prev.Reason != ans.Reason || prev.ObservedGeneration != p.Generation && prev.Message != ans.Message {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ans.Reason, "Evaluate", "%s", ans.Message)
	}
	gauge := 0.0
	if ans.Allowed {
		gauge = 1
	}
	metrics.UpgradeAllowed.WithLabelValues(p.Name).Set(gauge)
	return ctrl.Result{}, nil
}

// nextEvaluation is the next instant the policy must be evaluated again by itself: the next
// window boundary or exclusion edge, the end of an upstream's soak; with a GKE provider, also
// the next change of a window's UTC offset (GKE must be told the new UTC time) and, while a
// gate holds GKE back, the renewal of that hold a day before it lapses. Zero when nothing is
// due.
func (r *Reconciler) nextEvaluation(p *platformv1alpha1.ClusterUpgradePolicy, ans Answer, hold *gke.Gate, soaked, now time.Time) time.Time {
	next := ans.NextChange
	earliest := func(t time.Time) {
		if !t.IsZero() && t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	earliest(soaked)
	if p.Spec.Provider != nil && p.Spec.Provider.GKE != nil {
		for _, w := range p.Spec.MaintenanceWindows {
			if loc, err := time.LoadLocation(string(w.TimeZone)); err == nil {
				_, end := now.In(loc).ZoneBounds()
				earliest(end)
			}
		}
		if hold != nil {
			earliest(hold.Until.Add(-gateRenewBefore))
		}
	}
	return next
}

// requeueAfter is the wait until next (a second past it, so the evaluation lands on the new side
// of a boundary), sooner when monitor gates or the upstreams of a rollout (their versions and
// gates change on their own) must be read again at the Datadog poll.
func (r *Reconciler) requeueAfter(p *platformv1alpha1.ClusterUpgradePolicy, next, now time.Time) time.Duration {
	wait := time.Duration(0)
	if !next.IsZero() {
		wait = next.Sub(now) + time.Second
	}
	polled := p.Spec.Gates != nil && len(p.Spec.Gates.Monitors) > 0 || p.Spec.Rollout != nil
	if polled && r.GatePoll > 0 && (wait == 0 || wait > r.GatePoll) {
		wait = r.GatePoll
	}
	return wait
}

func (r *Reconciler) patchStatus(ctx context.Context, before, p *platformv1alpha1.ClusterUpgradePolicy) error {
	if equality.Semantic.DeepEqual(before.Status, p.Status) {
		return nil
	}
	return r.Client.Status().Patch(ctx, p, client.MergeFrom(before))
}

func interval(iv *schedule.Interval) *platformv1alpha1.TimeWindow {
	if iv == nil {
		return nil
	}
	w := &platformv1alpha1.TimeWindow{Start: metav1.NewTime(iv.Start), Window: strings.Join(iv.Windows, ","), Continuous: iv.Continuous}
	if !iv.Continuous {
		end := metav1.NewTime(iv.End)
		w.End = &end
	}
	return w
}
