package tenantnamespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/metrics"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Reasons of the Monitored condition (a failed Datadog call gives "Datadog" and its kind, as
// a ServiceSLO's Synced does).
const (
	ReasonMonitorsSynced       = "Synced"
	ReasonDatadogNotConfigured = "DatadogNotConfigured"
	ReasonWaitingForInventory  = "WaitingForInventory"
)

// Monitoring is how the controller reaches Datadog for the baseline monitors of tenant
// namespaces: through the same boundary, inventory and pacer as the ServiceSLOs' monitors.
type Monitoring struct {
	Conn      *datadog.Connection
	Inventory *datadog.Inventory
	// Poll is how often the inventory is re-read; a tenant whose monitors cannot be synced
	// (no credentials) looks again after it.
	Poll time.Duration
	// ClusterName tags every monitor cluster:<name> (the operator's --cluster-name); none when
	// empty.
	ClusterName string

	// polled re-queues the monitored tenants after each read of Datadog (AfterRefresh).
	polled chan event.GenericEvent
	// pending holds the creates whose answers were lost.
	pending datadog.Pending
	// seen holds the UID of each tenant name whose monitors this process synced: one deleted,
	// or replaced by another of the same name, has its monitors deleted at once (the sweep
	// after each poll finds those a restart forgot).
	seen datadog.Incarnations
	// cluster names the cluster in the monitors' tags.
	cluster tenancy.Cluster
}

// monitorsGone deletes the monitors of the tenant that had this name, when it is not uid (the
// tenant now there; "" for none). A failure is logged and left to the sweep after the next poll:
// neither the release of a namespace nor a new tenant of the name waits on Datadog.
func (r *Reconciler) monitorsGone(ctx context.Context, name string, uid types.UID) {
	m := r.Monitoring
	if m == nil {
		return
	}
	prev := m.seen.Swap(name, uid)
	if prev == "" || prev == uid {
		return
	}
	if err := m.deleteAll(ctx, prev); err != nil {
		if datadog.IsKind(err, datadog.KindRateLimited) {
			// Expected when many tenants go at once (Datadog limits deletes per account).
			ctrl.LoggerFrom(ctx).Info("Datadog rate limit reached deleting the baseline monitors of a deleted tenant; the sweep after the next poll deletes them", "tenant", name, "uid", prev)
			return
		}
		ctrl.LoggerFrom(ctx).Error(err, "Deleting the baseline monitors of a deleted tenant; the sweep after the next poll tries again", "tenant", name, "uid", prev)
		return
	}
	ctrl.LoggerFrom(ctx).Info("Deleted the baseline monitors of a deleted tenant", "tenant", name, "uid", prev)
}

// deleteAll deletes a tenant's baseline monitors (DeleteMonitorsOf: no read unless a create of
// it had no answer).
func (m *Monitoring) deleteAll(ctx context.Context, uid types.UID) error {
	dd, _, err := m.Conn.Get(ctx)
	if err != nil || dd == nil {
		return err
	}
	return datadog.NewExternal(dd, m.Inventory, &m.pending).DeleteMonitorsOf(ctx, string(uid))
}

// AfterRefresh runs after each read of Datadog: it deletes the baseline monitors of tenants
// that are gone (deleted while no process watched, or before this one remembered them), and
// re-queues every monitored tenant, so that drift and monitor states are seen at each poll
// with no read of its own.
func (r *Reconciler) AfterRefresh(ctx context.Context) {
	m := r.Monitoring
	var list platformv1alpha1.TenantNamespaceList
	if err := r.Client.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing tenants after reading Datadog; their monitors are looked at after the next poll")
		return
	}
	live := make(map[string]bool, len(list.Items))
	for _, t := range list.Items {
		live[string(t.UID)] = true
	}
	cluster, err := m.cluster.ID(ctx, r.APIReader)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Sweeping the baseline monitors of deleted tenants; tried again after the next poll")
		cluster = ""
	}
	var gone []string
	if cluster != "" {
		gone = m.Inventory.Owners(datadog.TagKindTenant, datadog.TagClusterPrefix+cluster)
	}
	for _, uid := range gone {
		if live[uid] {
			continue
		}
		if err := m.deleteAll(ctx, types.UID(uid)); err != nil {
			if datadog.IsKind(err, datadog.KindRateLimited) {
				ctrl.LoggerFrom(ctx).Info("Datadog rate limit reached while sweeping the baseline monitors of deleted tenants; going on after the next poll", "reason", err.Error())
				break
			}
			ctrl.LoggerFrom(ctx).Error(err, "Deleting the baseline monitors of a tenant that is gone", "uid", uid)
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Deleted the baseline monitors of a tenant that is gone", "uid", uid)
	}
	for i := range list.Items {
		t := &list.Items[i]
		if meta.FindStatusCondition(t.Status.Conditions, platformv1alpha1.ConditionMonitored) == nil {
			continue
		}
		select {
		case m.polled <- event.GenericEvent{Object: t}:
		case <-ctx.Done():
			return
		}
	}
}

// reconcileMonitors makes Datadog hold the class's baseline monitors for the namespace, one per
// monitor (created, updated when they differ, deleted when the class drops them), and reports
// them with their states in status.monitors. It sets Monitored; it never fails the reconcile
// (the namespace works without Datadog): a Datadog failure is retried after a delay.
func (r *Reconciler) reconcileMonitors(ctx context.Context, s *scope) ctrl.Result {
	m, t := r.Monitoring, s.tenant
	if m == nil {
		return ctrl.Result{}
	}
	uid := string(t.UID)
	baseline, ignored := tenancy.BaselineMonitors(t, s.class, s.team)
	if len(baseline) == 0 && len(t.Status.Monitors) == 0 && len(t.Status.UnknownCreates) == 0 && len(m.Inventory.AllMonitors(uid)) == 0 {
		meta.RemoveStatusCondition(&t.Status.Conditions, platformv1alpha1.ConditionMonitored)
		return ctrl.Result{}
	}
	dd, settings, err := m.Conn.Get(ctx)
	cluster := ""
	if err == nil {
		cluster, err = m.cluster.ID(ctx, r.APIReader)
	}
	switch {
	case err != nil:
		s.setCondition(platformv1alpha1.ConditionMonitored, metav1.ConditionUnknown, "DatadogUnreadable", err.Error()+"; retried")
		return ctrl.Result{RequeueAfter: datadog.RetryDelay(err)}
	case dd == nil:
		s.setCondition(platformv1alpha1.ConditionMonitored, metav1.ConditionFalse, ReasonDatadogNotConfigured, fmt.Sprintf(
			"no Datadog credentials: the %d baseline monitors of class %s are not in Datadog (create Secret %s)", len(baseline), s.class.Name, m.Conn.Secret))
		return ctrl.Result{RequeueAfter: m.Poll}
	case m.Inventory.Synced().IsZero():
		// A process that has not read Datadog yet knows nothing new: what the condition says
		// stays (a restart writes nothing), and a tenant that has none is told it waits.
		if s.condition(platformv1alpha1.ConditionMonitored) == nil {
			s.setCondition(platformv1alpha1.ConditionMonitored, metav1.ConditionUnknown, ReasonWaitingForInventory, "waiting for the first read of Datadog at "+settings.BaseURL())
		}
		return ctrl.Result{RequeueAfter: 2 * time.Second}
	}
	for _, u := range t.Status.UnknownCreates {
		m.pending.Restore(uid, u.Object, u.SentAt.Time)
	}
	sync := monitorSync{r: r, s: s, cluster: cluster, ext: datadog.NewExternal(dd, m.Inventory, &m.pending)}
	err = sync.run(ctx, baseline)
	t.Status.Monitors = sync.status
	t.Status.UnknownCreates = nil
	for object, sent := range m.pending.Records(uid) {
		t.Status.UnknownCreates = append(t.Status.UnknownCreates, platformv1alpha1.UnknownCreate{Object: object, SentAt: metav1.NewTime(sent)})
	}
	sort.Slice(t.Status.UnknownCreates, func(i, j int) bool { return t.Status.UnknownCreates[i].Object < t.Status.UnknownCreates[j].Object })
	if len(sync.done) > 0 {
		r.eventf(t, corev1.EventTypeNormal, ReasonMonitorsSynced, "Sync", "Baseline monitors in Datadog: %s", strings.Join(sync.done, ", "))
	}
	if err != nil {
		reason := "DatadogError"
		var e *datadog.Error
		if errors.As(err, &e) {
			reason = "Datadog" + string(e.Kind)
		}
		s.setCondition(platformv1alpha1.ConditionMonitored, metav1.ConditionFalse, reason, err.Error())
		return ctrl.Result{RequeueAfter: datadog.RetryDelay(err)}
	}
	msg := fmt.Sprintf("%d baseline monitors of class %s are in Datadog", len(baseline), s.class.Name)
	if len(baseline) == 0 {
		msg = fmt.Sprintf("class %s has no baseline monitors; none are in Datadog", s.class.Name)
	}
	if len(ignored) > 0 {
		msg += "; the class's threshold applies in place of " + ignored.ToAggregate().Error()
	}
	s.setCondition(platformv1alpha1.ConditionMonitored, metav1.ConditionTrue, ReasonMonitorsSynced, msg)
	return ctrl.Result{}
}

// monitorSync is one sync of a tenant's baseline monitors: what it reports in status (every
// monitor known so far, so an ID is never lost with a later failure) and what it did.
type monitorSync struct {
	r       *Reconciler
	s       *scope
	cluster string
	ext     *datadog.External
	status  []platformv1alpha1.TenantMonitorStatus
	done    []string
}

func (y *monitorSync) run(ctx context.Context, baseline []tenancy.Baseline) error {
	t := y.s.tenant
	uid := string(t.UID)
	notify := y.s.team.Spec.Notify
	if t.Spec.Monitoring != nil && len(t.Spec.Monitoring.Notify) > 0 {
		notify = t.Spec.Monitoring.Notify
	}
	// Until every monitor is looked at, status keeps what it had.
	y.status = slices.Clone(t.Status.Monitors)
	keep := map[string]bool{}
	for _, b := range baseline {
		keep[b.Name] = true
		want := datadog.DesiredBaseline(t.Name, uid, y.cluster, y.r.Monitoring.ClusterName, t.Spec.Team, y.s.class.Name, b, notify)
		obs, err := y.ext.ObserveMonitor(ctx, uid, statusMonitorID(t, b.Name), want)
		if err != nil {
			return err
		}
		for _, dup := range obs.Duplicates {
			if err := y.ext.DeleteMonitor(ctx, uid, b.Name, dup); err != nil {
				return err
			}
			metrics.DuplicatesDeleted.WithLabelValues("DatadogMonitor").Inc()
			y.done = append(y.done, fmt.Sprintf("deleted duplicate %d of %s", dup, b.Name))
		}
		id := obs.ID
		switch {
		case !obs.Exists:
			if id, err = y.ext.CreateMonitor(ctx, uid, want); err != nil {
				return err
			}
			y.done = append(y.done, fmt.Sprintf("created %s (%d)", b.Name, id))
		case !obs.UpToDate:
			ctrl.LoggerFrom(ctx).V(1).Info("Baseline monitor differs from the class", "id", id, "diff", obs.Diff)
			if err := y.ext.UpdateMonitor(ctx, uid, id, want); err != nil {
				return err
			}
			y.done = append(y.done, fmt.Sprintf("updated %s (%d)", b.Name, id))
		}
		y.put(platformv1alpha1.TenantMonitorStatus{Name: b.Name, ID: id, State: y.ext.MonitorState(uid, b.Name)})
	}
	for name, ids := range y.ext.Tiers(uid) {
		if keep[name] {
			continue
		}
		for _, id := range ids {
			if err := y.ext.DeleteMonitor(ctx, uid, name, id); err != nil {
				return err
			}
			y.done = append(y.done, fmt.Sprintf("deleted %s (%d)", name, id))
		}
	}
	y.status = slices.DeleteFunc(y.status, func(m platformv1alpha1.TenantMonitorStatus) bool { return !keep[m.Name] })
	return nil
}

// put sets a monitor's entry in status, in name order.
func (y *monitorSync) put(m platformv1alpha1.TenantMonitorStatus) {
	y.status = slices.DeleteFunc(y.status, func(o platformv1alpha1.TenantMonitorStatus) bool { return o.Name == m.Name })
	y.status = append(y.status, m)
	sort.Slice(y.status, func(i, j int) bool { return y.status[i].Name < y.status[j].Name })
}

// statusMonitorID is the ID the tenant's status gives a baseline monitor, 0 when none.
func statusMonitorID(t *platformv1alpha1.TenantNamespace, name string) int64 {
	for _, m := range t.Status.Monitors {
		if m.Name == name {
			return m.ID
		}
	}
	return 0
}
