package serviceslo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/metrics"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Finalizer holds a ServiceSLO until its Datadog objects are deleted (or orphaned).
const Finalizer = "platform.selfserve.dev/datadog"

// Reasons of the Synced condition, also the reasons of the events that explain it; an event's
// action says what was done in Datadog (Create, Recreate, Update).
const (
	ReasonSynced            = "Synced"
	ReasonNotConfigured     = "DatadogNotConfigured"
	ReasonWaitingForDatadog = "WaitingForInventory"
	ReasonNotTenant         = "NotInTenantNamespace"
	// ReasonNamespaceUnreadable: the namespace (and so the SLO's team) could not be read.
	ReasonNamespaceUnreadable = "NamespaceUnreadable"
	// ReasonReconcileError is Ready's reason when a reconcile fails for another reason than
	// Datadog after an earlier sync (reading the credentials, the Team, writing status).
	ReasonReconcileError = "ReconcileError"
	ReasonDatadogError   = "DatadogError"
	ReasonInvalidSpec    = "InvalidSpec"
)

// ReasonDuplicateDeleted is the reason of the event that reports a duplicate deleted.
const ReasonDuplicateDeleted = "DuplicateDeleted"

// ReasonOrphaned is the reason of the event of a ServiceSLO deleted with deletionPolicy Orphan,
// which leaves its objects in Datadog; the ServiceSLO goes, and its conditions with it.
const ReasonOrphaned = "Orphaned"

// Reconciler reconciles ServiceSLOs.
type Reconciler struct {
	Client client.Client
	// APIReader reads the namespaces the cache does not hold: those SREs label for a team.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Conn      *datadog.Connection
	Inventory *datadog.Inventory
	// Poll is how often the poller re-reads Datadog (jittered by ±10 %).
	Poll time.Duration
	// Workers is the number of ServiceSLOs reconciled at once.
	Workers int
	// ClusterName tags every SLO and monitor cluster:<name> (the operator's --cluster-name);
	// none when empty.
	ClusterName string
	// AfterRefresh run after each successful read of Datadog, on the poller: the other users of
	// the inventory (the tenants' baseline monitors) re-queue their objects there.
	AfterRefresh []func(context.Context)

	polled chan event.GenericEvent
	// pending holds the creates whose answers were lost.
	pending datadog.Pending
	// seen holds the UIDs each ServiceSLO name had while this process reconciled it, until
	// their Datadog objects are deleted (see vanished).
	seenMu sync.Mutex
	seen   map[types.NamespacedName]map[types.UID]bool
}

// external is the Datadog boundary for one reconcile, over the client of the current
// credentials and the state every reconcile shares.
func (r *Reconciler) external(dd *datadog.Client) *datadog.External {
	return datadog.NewExternal(dd, r.Inventory, &r.pending)
}

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=serviceslos,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=serviceslos/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=serviceslos/finalizers,verbs=update
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=teams,verbs=get;list;watch
// +kubebuilder:rbac:groups="",namespace=selfserve-system,resources=secrets,resourceNames=selfserve-datadog,verbs=get

// SetupWithManager registers the controller and the poller that refreshes the Datadog
// inventory and re-queues every ServiceSLO after each refresh.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.polled = make(chan event.GenericEvent, 1024)
	if err := mgr.Add(&poller{r: r}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&platformv1alpha1.ServiceSLO{}).
		WatchesRawSource(source.Channel(r.polled, &handler.EnqueueRequestForObject{})).
		Watches(&platformv1alpha1.Team{}, handler.EnqueueRequestsFromMapFunc(r.slosOfTeam), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}

// Reconcile makes Datadog hold the SLO and the monitors the ServiceSLO describes, and reports
// them and the error budget in status, written once at the end.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	slo := &platformv1alpha1.ServiceSLO{}
	if err := r.Client.Get(ctx, req.NamespacedName, slo); err != nil {
		if apierrors.IsNotFound(err) {
			return r.vanished(ctx, req.NamespacedName, "")
		}
		return ctrl.Result{}, err
	}
	if res, err := r.vanished(ctx, req.NamespacedName, slo.UID); err != nil || res.RequeueAfter > 0 {
		return res, err
	}
	before := slo.DeepCopy()
	uid := string(slo.UID)
	for _, u := range slo.Status.UnknownCreates {
		r.pending.Restore(uid, tierOf(u.Object), u.SentAt.Time)
	}
	defer func() {
		if !slo.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(slo, Finalizer) {
			return
		}
		slo.Status.UnknownCreates = unknownCreates(r.pending.Records(uid))
		summarize(slo, retErr)
		if equality.Semantic.DeepEqual(before.Status, slo.Status) {
			return
		}
		if err := r.Client.Status().Patch(ctx, slo, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()

	dd, settings, err := r.Conn.Get(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !slo.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, slo, dd)
	}
	if !controllerutil.ContainsFinalizer(slo, Finalizer) {
		patch := client.MergeFrom(slo.DeepCopy())
		controllerutil.AddFinalizer(slo, Finalizer)
		if err := r.Client.Patch(ctx, slo, patch); err != nil {
			return ctrl.Result{}, err
		}
		before.Finalizers, before.ResourceVersion = slo.Finalizers, slo.ResourceVersion
	}
	if dd == nil {
		setSynced(slo, metav1.ConditionFalse, ReasonNotConfigured, fmt.Sprintf(
			"no Datadog credentials: create Secret %s with keys api-key and app-key (and site), or set DD_API_KEY and DD_APP_KEY on the operator", r.Conn.Secret))
		// Checked again at the next poll; no retry storm while nobody has configured Datadog.
		return ctrl.Result{RequeueAfter: r.Poll}, nil
	}
	if r.Inventory.Synced().IsZero() {
		// A process that has not read Datadog yet knows nothing new: what Synced says stays (a
		// restart writes nothing), and a ServiceSLO that has no verdict yet is told it waits.
		if meta.FindStatusCondition(slo.Status.Conditions, platformv1alpha1.ConditionSynced) == nil {
			setSynced(slo, metav1.ConditionUnknown, ReasonWaitingForDatadog, "waiting for the first read of Datadog at "+settings.BaseURL())
		}
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	// The team of a tenant namespace, or of a namespace SREs labelled for one (the cache holds only
	// the managed namespaces; the others are read from the apiserver).
	team, err := tenancy.NamespaceTeam(ctx, tenancy.CacheFirst{Cache: r.Client, API: r.APIReader}, slo.Namespace)
	if err != nil {
		setSynced(slo, metav1.ConditionUnknown, ReasonNamespaceUnreadable, err.Error()+"; retried")
		return ctrl.Result{}, err
	}
	if team == "" {
		setSynced(slo, metav1.ConditionFalse, ReasonNotTenant, fmt.Sprintf("namespace %s has no team: it is neither a tenant namespace nor labelled %s by an SRE; create the ServiceSLO in your TenantNamespace", slo.Namespace, platformv1alpha1.LabelTeam))
		return ctrl.Result{}, reconcile.TerminalError(errors.New("not in a tenant namespace"))
	}
	if errs := datadog.Refusals(slo.Spec); len(errs) > 0 {
		// Stored before the webhook refused such specs, or with the webhook bypassed: Datadog
		// would answer 400, so nothing is sent until the spec changes.
		setSynced(slo, metav1.ConditionFalse, ReasonInvalidSpec, errs.ToAggregate().Error())
		return ctrl.Result{}, reconcile.TerminalError(errs.ToAggregate())
	}

	ext := r.external(dd)
	if err := r.syncSLO(ctx, slo, ext, team, before); err != nil {
		return r.datadogFailure(slo, err)
	}
	notify, err := r.teamNotify(ctx, team)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.syncMonitors(ctx, slo, ext, team, notify, before); err != nil {
		return r.datadogFailure(slo, err)
	}
	slo.Status.ErrorBudget = errorBudgets(ext.ErrorBudget(slo.Status.SLOID))
	// lastSyncTime moves with every poll; writing it alone would cost one status write per CR
	// per poll. It is refreshed with any other change, and at least hourly.
	synced := metav1.NewTime(r.Inventory.Synced())
	prev := before.Status.LastSyncTime
	changed := !equality.Semantic.DeepEqual(before.Status.ErrorBudget, slo.Status.ErrorBudget) ||
		!equality.Semantic.DeepEqual(before.Status.Monitors, slo.Status.Monitors) || before.Status.SLOID != slo.Status.SLOID
	if prev == nil || changed || synced.Sub(prev.Time) >= time.Hour {
		slo.Status.LastSyncTime = &synced
	}
	msg := fmt.Sprintf("SLO %s and %d burn-rate monitors are in Datadog", slo.Status.SLOID, len(slo.Status.Monitors))
	if _, skipped := datadog.Tiers(slo); len(skipped) > 0 {
		msg += fmt.Sprintf("; recommended tiers %v skipped: their burn rate is above 1/(1-target)", skipped)
	}
	setSynced(slo, metav1.ConditionTrue, ReasonSynced, msg)
	return ctrl.Result{}, nil
}

// syncSLO creates the SLO (or adopts the one carrying the CR's tag, deleting duplicates) or
// updates it when it differs, and persists its ID in status at once.
func (r *Reconciler) syncSLO(ctx context.Context, slo *platformv1alpha1.ServiceSLO, ext *datadog.External, team string, before *platformv1alpha1.ServiceSLO) error {
	uid := string(slo.UID)
	want := datadog.DesiredSLO(slo, team, r.ClusterName)
	obs, err := ext.ObserveSLO(ctx, uid, slo.Status.SLOID, want)
	if err != nil {
		return err
	}
	for _, id := range obs.Duplicates {
		if err := ext.DeleteSLO(ctx, uid, id); err != nil {
			return err
		}
		metrics.DuplicatesDeleted.WithLabelValues("DatadogSLO").Inc()
		r.Recorder.Eventf(slo, nil, corev1.EventTypeWarning, ReasonDuplicateDeleted, "Delete",
			"Deleted SLO %s in Datadog, a duplicate of SLO %s (a create whose answer was lost)", id, obs.ID)
	}
	switch {
	case !obs.Exists:
		id, err := ext.CreateSLO(ctx, uid, want)
		if err != nil {
			return err
		}
		action, note := "Create", "Created SLO %s in Datadog"
		if slo.Status.SLOID != "" {
			// It had one: someone deleted it in Datadog.
			action, note = "Recreate", "Re-created SLO %s in Datadog: the previous one was deleted there"
			metrics.DriftCorrections.WithLabelValues("DatadogSLO").Inc()
		}
		slo.Status.SLOID = id
		if err := r.persist(ctx, slo, before); err != nil {
			return err
		}
		r.Recorder.Eventf(slo, nil, corev1.EventTypeNormal, ReasonSynced, action, note, id)
		return nil
	case !obs.UpToDate:
		ctrl.LoggerFrom(ctx).V(1).Info("SLO differs from the spec", "id", obs.ID, "diff", obs.Diff)
		if err := ext.UpdateSLO(ctx, uid, obs.ID, want); err != nil {
			return err
		}
		if slo.Generation == slo.Status.ObservedGeneration {
			// The spec did not change since the last sync: Datadog did.
			metrics.DriftCorrections.WithLabelValues("DatadogSLO").Inc()
		}
		r.Recorder.Eventf(slo, nil, corev1.EventTypeNormal, ReasonSynced, "Update", "Updated SLO %s in Datadog", obs.ID)
	}
	slo.Status.SLOID = obs.ID
	return nil
}

// teamNotify is the Team's default notification handles (none when the Team is missing); an
// error when the Team cannot be read, so monitors are not sent without their team's handles.
func (r *Reconciler) teamNotify(ctx context.Context, team string) ([]string, error) {
	var t platformv1alpha1.Team
	if err := r.Client.Get(ctx, client.ObjectKey{Name: team}, &t); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Team %s for its notification handles: %w", team, err)
	}
	return t.Spec.Notify, nil
}

// slosOfTeam maps a Team to the ServiceSLOs of its namespaces: its notification handles are
// theirs when they name none.
func (r *Reconciler) slosOfTeam(ctx context.Context, o client.Object) []reconcile.Request {
	// From the apiserver: namespaces SREs labelled for the team are not in the cache.
	var namespaces metav1.PartialObjectMetadataList
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.APIReader.List(ctx, &namespaces, client.MatchingLabels{platformv1alpha1.LabelTeam: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the namespaces of a team", "team", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for _, ns := range namespaces.Items {
		var slos platformv1alpha1.ServiceSLOList
		if err := r.Client.List(ctx, &slos, client.InNamespace(ns.Name)); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing ServiceSLOs", "namespace", ns.Name)
			continue
		}
		for _, s := range slos.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
		}
	}
	return reqs
}

// syncMonitors creates, updates and deletes the burn-rate monitors so that there is exactly
// one per tier.
func (r *Reconciler) syncMonitors(ctx context.Context, slo *platformv1alpha1.ServiceSLO, ext *datadog.External, team string, teamNotify []string, before *platformv1alpha1.ServiceSLO) error {
	uid := string(slo.UID)
	have := ext.Tiers(uid)
	tiers, _ := datadog.Tiers(slo)
	var refs []platformv1alpha1.MonitorRef
	keep := map[string]bool{}
	for _, t := range tiers {
		want := datadog.DesiredMonitor(slo, team, r.ClusterName, slo.Status.SLOID, t, teamNotify)
		keep[want.Tier] = true
		obs, err := ext.ObserveMonitor(ctx, uid, monitorID(slo, want.Tier), want)
		if err != nil {
			return err
		}
		for _, dup := range obs.Duplicates {
			if err := ext.DeleteMonitor(ctx, uid, want.Tier, dup); err != nil {
				return err
			}
			metrics.DuplicatesDeleted.WithLabelValues("DatadogMonitor").Inc()
			r.Recorder.Eventf(slo, nil, corev1.EventTypeWarning, ReasonDuplicateDeleted, "Delete",
				"Deleted burn-rate monitor %d (%s) in Datadog, a duplicate of monitor %d (a create whose answer was lost)", dup, want.Tier, obs.ID)
		}
		id := obs.ID
		switch {
		case !obs.Exists:
			if id, err = ext.CreateMonitor(ctx, uid, want); err != nil {
				return err
			}
			slo.Status.Monitors = withMonitor(slo.Status.Monitors, platformv1alpha1.MonitorRef{Tier: want.Tier, ID: id})
			if err := r.persist(ctx, slo, before); err != nil {
				return err
			}
			r.Recorder.Eventf(slo, nil, corev1.EventTypeNormal, ReasonSynced, "Create", "Created burn-rate monitor %d (%s) in Datadog", id, want.Tier)
		case !obs.UpToDate:
			ctrl.LoggerFrom(ctx).V(1).Info("Monitor differs from the spec", "id", id, "diff", obs.Diff)
			if err := ext.UpdateMonitor(ctx, uid, id, want); err != nil {
				return err
			}
			if slo.Generation == slo.Status.ObservedGeneration {
				metrics.DriftCorrections.WithLabelValues("DatadogMonitor").Inc()
			}
			r.Recorder.Eventf(slo, nil, corev1.EventTypeNormal, ReasonSynced, "Update", "Updated burn-rate monitor %d (%s) in Datadog", id, want.Tier)
		}
		refs = append(refs, platformv1alpha1.MonitorRef{Tier: want.Tier, ID: id})
	}
	for tier, ids := range have {
		if keep[tier] {
			continue
		}
		for _, id := range ids {
			if err := ext.DeleteMonitor(ctx, uid, tier, id); err != nil {
				return err
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Tier < refs[j].Tier })
	slo.Status.Monitors = refs
	return nil
}

// persist writes the status now, before anything else can fail: the ID of an object just
// created in Datadog must not live only in memory.
func (r *Reconciler) persist(ctx context.Context, slo, before *platformv1alpha1.ServiceSLO) error {
	slo.Status.UnknownCreates = unknownCreates(r.pending.Records(string(slo.UID)))
	if err := r.Client.Status().Patch(ctx, slo, client.MergeFrom(before)); err != nil {
		return err
	}
	before.Status = *slo.Status.DeepCopy()
	return nil
}

// withMonitor returns refs with ref in place of its tier's, sorted by tier.
func withMonitor(refs []platformv1alpha1.MonitorRef, ref platformv1alpha1.MonitorRef) []platformv1alpha1.MonitorRef {
	out := slices.DeleteFunc(slices.Clone(refs), func(m platformv1alpha1.MonitorRef) bool { return m.Tier == ref.Tier })
	out = append(out, ref)
	sort.Slice(out, func(i, j int) bool { return out[i].Tier < out[j].Tier })
	return out
}

// monitorID is the ID the status gives a tier's monitor, 0 when none.
func monitorID(slo *platformv1alpha1.ServiceSLO, tier string) int64 {
	for _, m := range slo.Status.Monitors {
		if m.Tier == tier {
			return m.ID
		}
	}
	return 0
}

// vanished deletes the Datadog objects of the incarnations of a ServiceSLO name, other than
// current, that are gone without their finalizer having been removed by the operator. That
// happens: kube-apiserver decides whether a DELETE waits for finalizers on the object it read,
// so a finalizer added between that read and the delete is not waited for, and the CR goes
// while its first creates are in flight. Their objects carry its UID; they are deleted as a
// deletion would (after every unknown create has settled). Only UIDs this process reconciled
// are known: one that vanished across a restart is not.
func (r *Reconciler) vanished(ctx context.Context, key types.NamespacedName, current types.UID) (ctrl.Result, error) {
	r.seenMu.Lock()
	if current != "" {
		if r.seen == nil {
			r.seen = map[types.NamespacedName]map[types.UID]bool{}
		}
		if r.seen[key] == nil {
			r.seen[key] = map[types.UID]bool{}
		}
		r.seen[key][current] = true
	}
	var gone []types.UID
	for uid := range r.seen[key] {
		if uid != current {
			gone = append(gone, uid)
		}
	}
	r.seenMu.Unlock()
	if len(gone) == 0 {
		return ctrl.Result{}, nil
	}
	dd, _, err := r.Conn.Get(ctx)
	if err != nil || dd == nil {
		return ctrl.Result{}, err
	}
	for _, uid := range gone {
		err := r.external(dd).DeleteAll(ctx, string(uid), "", nil)
		var e *datadog.Error
		if errors.As(err, &e) && e.Kind == datadog.KindUnknown && e.RetryAfter > 0 {
			return ctrl.Result{RequeueAfter: e.RetryAfter + time.Second}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		ctrl.LoggerFrom(ctx).Info("Deleted the Datadog objects of a ServiceSLO that was removed without its finalizer", "uid", uid)
		r.forgetUID(key, uid)
	}
	return ctrl.Result{}, nil
}

// forgetUID drops a UID of a name once its Datadog objects are deleted.
func (r *Reconciler) forgetUID(key types.NamespacedName, uid types.UID) {
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	delete(r.seen[key], uid)
	if len(r.seen[key]) == 0 {
		delete(r.seen, key)
	}
}

// reconcileDelete removes the monitors, then the SLO (Delete), or leaves them (Orphan).
func (r *Reconciler) reconcileDelete(ctx context.Context, slo *platformv1alpha1.ServiceSLO, dd *datadog.Client) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(slo, Finalizer) {
		return ctrl.Result{}, nil
	}
	switch {
	case slo.Spec.DeletionPolicy == platformv1alpha1.DeletionPolicyOrphan:
		r.Recorder.Eventf(slo, nil, corev1.EventTypeNormal, ReasonOrphaned, "Delete", "Left SLO %s and its monitors in Datadog (deletionPolicy Orphan)", slo.Status.SLOID)
	case dd == nil:
		// Blocking the deletion until someone configures Datadog would strand the CR; the objects
		// stay in Datadog, tagged with the CR's UID, and the event says so.
		r.Recorder.Eventf(slo, nil, corev1.EventTypeWarning, ReasonNotConfigured, "Delete", "Datadog is not configured: SLO %s and its monitors were left in Datadog", slo.Status.SLOID)
	default:
		// Everything carrying the CR's tag goes, duplicates and objects of a create whose answer
		// was lost included.
		var monitors []int64
		for _, m := range slo.Status.Monitors {
			monitors = append(monitors, m.ID)
		}
		if err := r.external(dd).DeleteAll(ctx, string(slo.UID), slo.Status.SLOID, monitors); err != nil {
			return r.datadogFailure(slo, err)
		}
	}
	patch := client.MergeFrom(slo.DeepCopy())
	controllerutil.RemoveFinalizer(slo, Finalizer)
	if err := r.Client.Patch(ctx, slo, patch); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	r.forgetUID(client.ObjectKeyFromObject(slo), slo.UID)
	return ctrl.Result{}, nil
}

// datadogFailure reports a failed Datadog call in Synced. Invalid requests stop until the spec
// changes; everything else is retried with the workqueue's backoff.
func (r *Reconciler) datadogFailure(slo *platformv1alpha1.ServiceSLO, err error) (ctrl.Result, error) {
	reason := ReasonDatadogError
	var e *datadog.Error
	if errors.As(err, &e) {
		reason = "Datadog" + string(e.Kind)
	}
	setSynced(slo, metav1.ConditionFalse, reason, err.Error())
	r.Recorder.Eventf(slo, nil, corev1.EventTypeWarning, reason, "Sync", "%v", err)
	switch {
	case datadog.IsKind(err, datadog.KindInvalid):
		return ctrl.Result{}, reconcile.TerminalError(err)
	case (datadog.IsKind(err, datadog.KindRateLimited) || datadog.IsKind(err, datadog.KindUnknown)) && e.RetryAfter > 0:
		// Come back when the limit resets or the unknown create has settled, spread a little,
		// rather than in a backoff loop.
		return ctrl.Result{RequeueAfter: e.RetryAfter + time.Duration(rand.Int64N(int64(time.Second)))}, nil
	}
	return ctrl.Result{}, err
}

// sloObject is UnknownCreate.Object of the SLO; a monitor's is its tier.
const sloObject = "slo"

func tierOf(object string) string {
	if object == sloObject {
		return ""
	}
	return object
}

// unknownCreates turns the records of creates whose outcome is unknown into the status field.
func unknownCreates(records map[string]time.Time) []platformv1alpha1.UnknownCreate {
	var out []platformv1alpha1.UnknownCreate
	for tier, sent := range records {
		object := tier
		if tier == "" {
			object = sloObject
		}
		out = append(out, platformv1alpha1.UnknownCreate{Object: object, SentAt: metav1.NewTime(sent)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Object < out[j].Object })
	return out
}

// errorBudgets turns the search's status into the status field.
func errorBudgets(sts []datadog.SLOStatus) []platformv1alpha1.ErrorBudget {
	var out []platformv1alpha1.ErrorBudget
	for _, s := range sts {
		b := platformv1alpha1.ErrorBudget{Timeframe: platformv1alpha1.Timeframe(s.Timeframe), State: s.State}
		if s.BudgetRemaining != nil {
			b.Remaining = strconv.FormatFloat(*s.BudgetRemaining, 'f', 2, 64)
		}
		if s.SLI != nil {
			b.SLI = strconv.FormatFloat(*s.SLI, 'f', 4, 64)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timeframe < out[j].Timeframe })
	return out
}

func setSynced(slo *platformv1alpha1.ServiceSLO, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&slo.Status.Conditions, metav1.Condition{
		Type: platformv1alpha1.ConditionSynced, Status: status, Reason: reason, Message: msg, ObservedGeneration: slo.Generation,
	})
}

// poller refreshes the inventory every Poll (jittered) and re-queues every ServiceSLO (and,
// through AfterRefresh, every monitored tenant), so drift, monitor states and error budgets are
// handled with a few list calls per poll for all of them.
type poller struct{ r *Reconciler }

// NeedLeaderElection keeps the calls to the leader.
func (p *poller) NeedLeaderElection() bool { return true }

// Start runs until ctx ends.
func (p *poller) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("datadog-poller")
	for {
		if dd, _, err := p.r.Conn.Get(ctx); err == nil && dd != nil {
			err := p.r.Inventory.Refresh(ctx, dd, time.Now())
			if ctx.Err() != nil {
				return nil // stopping: a read cut short is not a Datadog error
			}
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			metrics.DatadogPolls.WithLabelValues(outcome).Inc()
			switch {
			case datadog.IsKind(err, datadog.KindRateLimited):
				// Expected under load, and handled: the pacer holds calls until the reset and
				// the next poll reads again. Not an error worth a stack trace every poll.
				log.Info("Datadog rate limit reached; reading again at the next poll", "reason", err.Error())
			case err != nil:
				log.Error(err, "Reading Datadog")
			default:
				for _, f := range p.r.AfterRefresh {
					f(ctx)
				}
				var list platformv1alpha1.ServiceSLOList
				if err := p.r.Client.List(ctx, &list); err != nil {
					// Nothing re-queued this poll: the budgets wait for the next one.
					log.Error(err, "Listing ServiceSLOs after reading Datadog; their budgets are updated at the next poll")
				}
				for i := range list.Items {
					select {
					case p.r.polled <- event.GenericEvent{Object: &list.Items[i]}:
					case <-ctx.Done():
						return nil
					}
				}
			}
		}
		jitter := time.Duration(rand.Int64N(int64(p.r.Poll)/5+1)) - p.r.Poll/10
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.r.Poll + jitter):
		}
	}
}
