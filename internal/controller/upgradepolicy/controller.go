// Package upgradepolicy reconciles ClusterUpgradePolicies: it answers in the UpgradeAllowed
// condition whether the cluster may be upgraded now (maintenance windows, exclusions, error
// budget and monitor gates, suspension), reports why and what comes next, and requeues itself
// for the next instant at which the answer can change rather than polling.
package upgradepolicy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/internal/kstatus"
	"github.com/selfserve-dev/selfserve/internal/schedule"
)

// upgradeAllowed is 1 while a policy allows upgrades.
var upgradeAllowed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "selfserve_upgrade_allowed",
	Help: "1 while the ClusterUpgradePolicy allows upgrades, 0 otherwise.",
}, []string{"policy"})

func init() { ctrlmetrics.Registry.MustRegister(upgradeAllowed) }

// Reconciler reconciles ClusterUpgradePolicies.
type Reconciler struct {
	Client client.Client
	// APIReader lists nodes without caching every Node in the operator.
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

// Reconcile evaluates the policy at the current instant and writes the answer once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &platformv1alpha1.ClusterUpgradePolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		if apierrors.IsNotFound(err) {
			upgradeAllowed.DeleteLabelValues(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := p.DeepCopy()
	now := r.Now()

	windows, exclusions, err := schedule.FromSpec(p.Spec)
	if err != nil {
		// The schema admits only loadable zones and valid rules; this is a bug or a stale tz
		// database, and retrying will not help.
		kstatus.Summarize(&p.Status.Conditions, p.Generation, kstatus.Outcome{Stalled: true, Reason: "InvalidSchedule", Message: err.Error()})
		return ctrl.Result{}, errors.Join(reconcile.TerminalError(err), r.patchStatus(ctx, before, p))
	}
	blockers, gateErr := r.evaluateGates(ctx, p)
	ans := Decide(p.Spec.Suspend, windows, exclusions, blockers, now)

	p.Status.CurrentWindow = interval(ans.Current)
	p.Status.NextWindow = interval(ans.Next)
	p.Status.ActiveExclusions = nil
	for _, e := range ans.Active {
		end := metav1.NewTime(e.End)
		p.Status.ActiveExclusions = append(p.Status.ActiveExclusions, platformv1alpha1.ActiveExclusion{Name: e.Name, Scope: platformv1alpha1.UpgradeScope(e.Scope), End: &end})
	}
	p.Status.Blockers = blockers
	if gateErr != nil {
		setCondition(p, platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionFalse, platformv1alpha1.ReasonGateUnavailable, gateErr.Error())
	} else {
		setCondition(p, platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionTrue, platformv1alpha1.ReasonGatesEvaluated, "every gate was read")
	}
	hold := gateHold(p, blockers, now)
	next := r.nextEvaluation(p, ans, hold, now)
	p.Status.NextEvaluation = nil
	if !next.IsZero() {
		t := metav1.NewTime(next)
		p.Status.NextEvaluation = &t
	}
	if v, err := r.Discovery.ServerVersion(); err == nil {
		p.Status.ClusterVersion = v.GitVersion
	}
	p.Status.NodeVersions = r.nodeVersions(ctx)
	provider, providerErr := r.syncProvider(ctx, p, windows, exclusions, hold, now)
	p.Status.Provider = provider

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
	if prev == nil || prev.Status != status || prev.Reason != ans.Reason {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ans.Reason, "Evaluate", "%s", ans.Message)
	}
	gauge := 0.0
	if ans.Allowed {
		gauge = 1
	}
	upgradeAllowed.WithLabelValues(p.Name).Set(gauge)

	if kstatus.Summarize(&p.Status.Conditions, p.Generation, summarize(p)) {
		p.Status.ObservedGeneration = p.Generation
	}
	if err := r.patchStatus(ctx, before, p); err != nil {
		return ctrl.Result{}, errors.Join(err, providerErr)
	}
	if providerErr != nil {
		// Returned, so the work queue retries with its (capped) backoff rather than at the next
		// window edge, days later, while GKE keeps a stale policy.
		return ctrl.Result{}, providerErr
	}
	return ctrl.Result{RequeueAfter: r.requeueAfter(p, next, now)}, nil
}

// nextEvaluation is the next instant the policy must be evaluated again by itself: the next
// window boundary or exclusion edge; with a GKE provider, also the next change of a window's UTC
// offset (GKE must be told the new UTC time) and, while a gate holds GKE back, the renewal of
// that hold a day before it lapses. Zero when nothing is due.
func (r *Reconciler) nextEvaluation(p *platformv1alpha1.ClusterUpgradePolicy, ans Answer, hold *gke.Gate, now time.Time) time.Time {
	next := ans.NextChange
	earliest := func(t time.Time) {
		if !t.IsZero() && t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
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
// of a boundary), sooner when monitor gates must be read again at the Datadog poll.
func (r *Reconciler) requeueAfter(p *platformv1alpha1.ClusterUpgradePolicy, next, now time.Time) time.Duration {
	wait := time.Duration(0)
	if !next.IsZero() {
		wait = next.Sub(now) + time.Second
	}
	if p.Spec.Gates != nil && len(p.Spec.Gates.Monitors) > 0 && r.GatePoll > 0 && (wait == 0 || wait > r.GatePoll) {
		wait = r.GatePoll
	}
	return wait
}

// gateHoldLength and gateRenewBefore: while a gate blocks (or the policy is suspended), GKE holds
// upgrades back with an exclusion that ends at the end of the next UTC day, and is renewed when
// less than a day of it is left. A stopped operator thus cannot freeze the cluster for more than
// two days, and a running one never lets the hold lapse.
const (
	gateHoldLength  = 48 * time.Hour
	gateRenewBefore = 24 * time.Hour
)

// gateHold is the exclusion GKE gets while a gate blocks or the policy is suspended; nil
// otherwise.
func gateHold(p *platformv1alpha1.ClusterUpgradePolicy, blockers []platformv1alpha1.GateBlocker, now time.Time) *gke.Gate {
	if len(blockers) == 0 && !p.Spec.Suspend {
		return nil
	}
	return &gke.Gate{Scope: gateScope(blockers, p.Spec.Suspend), Until: now.UTC().Truncate(24 * time.Hour).Add(gateHoldLength)}
}

// syncProvider keeps the GKE cluster's maintenance policy in line, says how that went in
// status and in ProviderSynced, and returns the error of a sync that failed (to be retried).
// A policy GKE would refuse is reported Invalid and not sent; it waits for a spec change.
func (r *Reconciler) syncProvider(ctx context.Context, p *platformv1alpha1.ClusterUpgradePolicy, windows []schedule.Window, exclusions []schedule.Exclusion, hold *gke.Gate, now time.Time) (*platformv1alpha1.ProviderStatus, error) {
	if p.Spec.Provider == nil || p.Spec.Provider.GKE == nil {
		setCondition(p, platformv1alpha1.ConditionProviderSynced, metav1.ConditionTrue, platformv1alpha1.ReasonProviderNotConfigured, "the policy names no provider; nothing to sync")
		return nil, nil
	}
	st := p.Status.Provider.DeepCopy()
	if st == nil {
		st = &platformv1alpha1.ProviderStatus{}
	}
	invalid := func(msg string) (*platformv1alpha1.ProviderStatus, error) {
		st.State, st.Message = "Invalid", msg
		setCondition(p, platformv1alpha1.ConditionProviderSynced, metav1.ConditionFalse, platformv1alpha1.ReasonProviderInvalid, msg)
		return st, nil
	}
	failed := func(err error) (*platformv1alpha1.ProviderStatus, error) {
		st.State, st.Message = "Error", err.Error()
		setCondition(p, platformv1alpha1.ConditionProviderSynced, metav1.ConditionFalse, platformv1alpha1.ReasonSyncFailed, err.Error()+"; retried with backoff")
		return st, fmt.Errorf("syncing GKE: %w", err)
	}
	if r.GKE == nil {
		return failed(errors.New("no GKE client configured"))
	}
	if errs := gke.Refusals(p.Spec, now); len(errs) > 0 {
		return invalid(errs.ToAggregate().Error() + "; the policy was not sent to GKE")
	}
	window, err := gke.DesiredWindow(windows, now)
	if err != nil {
		return invalid(err.Error())
	}
	desiredExclusions := gke.DesiredExclusions(exclusions, hold, now)
	c, err := r.GKE(ctx)
	if err != nil {
		return failed(err)
	}
	g := p.Spec.Provider.GKE
	syncCtx, cancel := context.WithTimeout(ctx, cmp.Or(r.GKETimeout, 30*time.Second))
	defer cancel()
	res, err := c.Sync(syncCtx, gke.ClusterName(g.Project, g.Location, g.Cluster), window, desiredExclusions)
	if err != nil {
		return failed(err)
	}
	st.State = "Synced"
	st.Message = "GKE's maintenance policy matches: " + window.Recurrence + " at " + window.Window.StartTime[11:16] + " UTC"
	if res.Changed || st.LastSyncTime == nil {
		t := metav1.NewTime(now)
		st.LastSyncTime = &t
	}
	if res.ResourceVersion != "" {
		st.ResourceVersion = res.ResourceVersion
	}
	setCondition(p, platformv1alpha1.ConditionProviderSynced, metav1.ConditionTrue, platformv1alpha1.ReasonProviderSynced, st.Message)
	return st, nil
}

// gateScope is the widest scope among the blockers (everything while suspended).
func gateScope(blockers []platformv1alpha1.GateBlocker, suspend bool) schedule.Scope {
	rank := map[platformv1alpha1.UpgradeScope]int{platformv1alpha1.ScopeNoMinorUpgrades: 1, platformv1alpha1.ScopeNoMinorOrNodeUpgrades: 2, platformv1alpha1.ScopeNoUpgrades: 3}
	widest := platformv1alpha1.ScopeNoMinorUpgrades
	if suspend {
		widest = platformv1alpha1.ScopeNoUpgrades
	}
	for _, b := range blockers {
		if rank[b.Scope] > rank[widest] {
			widest = b.Scope
		}
	}
	return schedule.Scope(widest)
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
	return &platformv1alpha1.TimeWindow{Start: metav1.NewTime(iv.Start), End: metav1.NewTime(iv.End), Window: strings.Join(iv.Windows, ",")}
}

// nodeVersions counts nodes by kubelet version.
func (r *Reconciler) nodeVersions(ctx context.Context) []platformv1alpha1.NodeVersion {
	var nodes corev1.NodeList
	if err := r.APIReader.List(ctx, &nodes); err != nil {
		return nil
	}
	counts := map[string]int32{}
	for _, n := range nodes.Items {
		counts[n.Status.NodeInfo.KubeletVersion]++
	}
	var out []platformv1alpha1.NodeVersion
	for v, c := range counts {
		out = append(out, platformv1alpha1.NodeVersion{Version: v, Nodes: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// evaluateGates lists what holds upgrades back now: ServiceSLOs whose remaining budget is under
// the gate's percentage, and Datadog monitors in Alert (one list call per gate).
func (r *Reconciler) evaluateGates(ctx context.Context, p *platformv1alpha1.ClusterUpgradePolicy) ([]platformv1alpha1.GateBlocker, error) {
	if p.Spec.Gates == nil {
		return nil, nil
	}
	var blockers []platformv1alpha1.GateBlocker
	var errs []error
	for i, g := range p.Spec.Gates.ErrorBudget {
		if len(g.Teams) == 0 {
			// Stored before teams were required: say so rather than read every tenant's SLOs.
			errs = append(errs, fmt.Errorf("spec.gates.errorBudget[%d].teams is empty: the gate reads no ServiceSLO until it names the teams whose SLOs may hold upgrades back", i))
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&g.Selector)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var slos platformv1alpha1.ServiceSLOList
		if err := r.Client.List(ctx, &slos, client.MatchingLabelsSelector{Selector: sel}); err != nil {
			errs = append(errs, err)
			continue
		}
		namespaces, err := r.teamNamespaces(ctx, g.Teams)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range slos.Items {
			if !namespaces[s.Namespace] {
				continue // not one of the gate's teams: a tenant cannot join a gate by labelling its SLO
			}
			for _, b := range s.Status.ErrorBudget {
				if g.Timeframe != "" && b.Timeframe != g.Timeframe || b.Remaining == "" {
					continue
				}
				remaining, err := strconv.ParseFloat(b.Remaining, 64)
				if err != nil || remaining >= float64(g.MinRemainingPercent) {
					continue
				}
				blockers = append(blockers, platformv1alpha1.GateBlocker{
					Kind: "ServiceSLO", Name: s.Name, Namespace: s.Namespace, Scope: scopeOr(g.Scope),
					Message: fmt.Sprintf("error budget %s%% (%s) is under %d%%", b.Remaining, b.Timeframe, g.MinRemainingPercent),
				})
				break
			}
		}
	}
	if len(p.Spec.Gates.Monitors) > 0 {
		var dd *datadog.Client
		if r.Conn != nil {
			dd, _, _ = r.Conn.Get(ctx)
		}
		if dd == nil {
			errs = append(errs, errors.New("monitor gates need Datadog credentials, which are not configured"))
		} else {
			for _, g := range p.Spec.Gates.Monitors {
				monitors, err := dd.ListMonitors(ctx, g.Tags)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, m := range monitors {
					if !countsForGate(m.GetTags(), g.Teams) {
						continue
					}
					if string(m.GetOverallState()) == "Alert" {
						blockers = append(blockers, platformv1alpha1.GateBlocker{
							Kind: "Monitor", Name: m.GetName(), ID: m.GetId(), Scope: scopeOr(g.Scope),
							Message: fmt.Sprintf("monitor %d is in Alert", m.GetId()),
						})
					}
				}
			}
		}
	}
	return blockers, errors.Join(errs...)
}

// teamNamespaces returns the namespaces labelled with one of the teams: tenant namespaces
// (the operator sets the label from a Team their requester belongs to) and namespaces SREs
// labelled themselves. It asks the apiserver: the cache holds only managed namespaces.
func (r *Reconciler) teamNamespaces(ctx context.Context, teams []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(teams) == 0 {
		return out, nil
	}
	req, err := labels.NewRequirement(platformv1alpha1.LabelTeam, selection.In, teams)
	if err != nil {
		return nil, err
	}
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "NamespaceList"})
	if err := r.APIReader.List(ctx, &list, client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*req)}); err != nil {
		return nil, fmt.Errorf("listing the namespaces of teams %v: %w", teams, err)
	}
	for _, ns := range list.Items {
		out[ns.Name] = true
	}
	return out, nil
}

// countsForGate reports whether a monitor counts for a monitor gate: monitors made outside
// selfserve always do; selfserve's own (burn-rate alerts of ServiceSLOs, whose tags tenants
// choose) only when their team is one of the gate's.
func countsForGate(tags []string, teams []string) bool {
	if !slices.ContainsFunc(tags, func(t string) bool { return strings.EqualFold(t, datadog.TagManaged) }) {
		return true
	}
	for _, t := range tags {
		if team, ok := strings.CutPrefix(strings.ToLower(t), "team:"); ok && slices.Contains(teams, team) {
			return true
		}
	}
	return false
}

func scopeOr(s platformv1alpha1.UpgradeScope) platformv1alpha1.UpgradeScope {
	if s == "" {
		return platformv1alpha1.ScopeNoMinorOrNodeUpgrades
	}
	return s
}
