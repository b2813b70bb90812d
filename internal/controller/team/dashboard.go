package team

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// ReasonDashboard is the reason of the Events about a Team's dashboard.
const ReasonDashboard = "Dashboard"

// Dashboards is how the controller reaches Datadog for the Teams' dashboards: through the
// boundary, inventory and pacer the ServiceSLOs use.
type Dashboards struct {
	Conn      *datadog.Connection
	Inventory *datadog.Inventory

	// polled re-queues every Team after each read of Datadog (AfterRefresh).
	polled  chan event.GenericEvent
	pending datadog.Pending
	// seen is the UID each Team name had when its dashboard was synced: a Team deleted, or
	// replaced by another of its name, has its dashboard deleted at once.
	seen    datadog.Incarnations
	cluster tenancy.Cluster
}

func (d *Dashboards) external(ctx context.Context) (*datadog.External, datadog.Settings, error) {
	dd, settings, err := d.Conn.Get(ctx)
	if err != nil || dd == nil {
		return nil, settings, err
	}
	return datadog.NewExternal(dd, d.Inventory, &d.pending), settings, nil
}

// dashboardGone deletes the dashboard of the Team that had this name when it is not uid (the
// Team now there, "" for none). A failure is logged and left to the sweep after the next poll.
func (r *Reconciler) dashboardGone(ctx context.Context, name string, uid types.UID) {
	d := r.Dashboards
	if d == nil {
		return
	}
	prev := d.seen.Swap(name, uid)
	if prev == "" || prev == uid {
		return
	}
	ext, _, err := d.external(ctx)
	if err == nil && ext != nil {
		err = ext.DeleteDashboards(ctx, string(prev))
	}
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Deleting the dashboard of a deleted Team; the sweep after the next poll tries again", "team", name, "uid", prev)
	}
}

// AfterRefresh runs after each read of Datadog: it deletes the dashboards of this cluster's
// Teams that are gone, and re-queues every Team, so that its dashboard follows its ServiceSLOs
// and is put back when someone edited it.
func (r *Reconciler) AfterRefresh(ctx context.Context) {
	d := r.Dashboards
	var teams platformv1alpha1.TeamList
	if err := r.Client.List(ctx, &teams); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing Teams after reading Datadog; their dashboards are looked at after the next poll")
		return
	}
	live := map[string]bool{}
	for _, t := range teams.Items {
		live[string(t.UID)] = true
	}
	if cluster, err := d.cluster.ID(ctx, r.APIReader); err == nil && d.Inventory.DashboardsErr() == nil {
		if ext, _, err := d.external(ctx); err == nil && ext != nil {
			for _, uid := range d.Inventory.DashboardOwners(cluster) {
				if live[uid] {
					continue
				}
				if err := ext.DeleteDashboards(ctx, uid); err != nil {
					ctrl.LoggerFrom(ctx).Error(err, "Deleting the dashboard of a Team that is gone", "uid", uid)
				}
			}
		}
	}
	for i := range teams.Items {
		select {
		case d.polled <- event.GenericEvent{Object: &teams.Items[i]}:
		case <-ctx.Done():
			return
		}
	}
}

// reconcileDashboard keeps the Team's dashboard in Datadog as its ServiceSLOs and tenants say,
// and sets status.dashboard. Nothing is sent while Datadog is not configured or not read yet,
// nor when the dashboard is the one last written and nobody edited it. A Datadog failure is an
// Event and a retry after a delay; the Team stays as Ready as it was.
func (r *Reconciler) reconcileDashboard(ctx context.Context, team *platformv1alpha1.Team, tenants []platformv1alpha1.TenantNamespace, namespaces tenancy.TeamNamespaces) ctrl.Result {
	d := r.Dashboards
	if d == nil {
		return ctrl.Result{}
	}
	ext, settings, err := d.external(ctx)
	if err != nil || ext == nil {
		return ctrl.Result{} // not configured: nothing to keep (the Secret is read again at each poll)
	}
	if d.Inventory.Synced().IsZero() {
		return ctrl.Result{RequeueAfter: 2 * time.Second}
	}
	fail := func(err error) ctrl.Result {
		r.Recorder.Eventf(team, nil, corev1.EventTypeWarning, ReasonDashboard, "Sync", "Keeping the team's Datadog dashboard: %v", err)
		return ctrl.Result{RequeueAfter: datadog.RetryDelay(err)}
	}
	if err := d.Inventory.DashboardsErr(); err != nil {
		return fail(err) // what the inventory holds of the dashboards is stale
	}
	cluster, err := d.cluster.ID(ctx, r.APIReader)
	if err != nil {
		return fail(err)
	}
	slos, err := r.teamSLOs(ctx, team.Name, tenants, namespaces)
	if err != nil {
		return fail(err)
	}
	uid := string(team.UID)
	want := datadog.DesiredDashboard(team.Name, uid, cluster, slos)
	var statusID, statusHash string
	var statusModified time.Time
	if s := team.Status.Dashboard; s != nil {
		statusID, statusHash = s.ID, s.Hash
		statusModified, _ = time.Parse(time.RFC3339Nano, s.ModifiedAt)
	}
	obs, err := ext.ObserveDashboard(ctx, uid, statusID, want.Hash, statusHash, statusModified)
	if err != nil {
		return fail(err)
	}
	d.seen.Swap(team.Name, team.UID)
	for _, dup := range obs.Duplicates {
		if err := ext.DeleteDashboard(ctx, uid, dup); err != nil {
			return fail(err)
		}
	}
	switch {
	case !obs.Exists:
		created, err := ext.CreateDashboard(ctx, uid, want)
		if err != nil {
			return fail(err)
		}
		team.Status.Dashboard = dashboardStatus(settings, &created, want.Hash)
		r.Recorder.Eventf(team, nil, corev1.EventTypeNormal, ReasonDashboard, "Create", "Created the team's Datadog dashboard %s", team.Status.Dashboard.URL)
	case !obs.UpToDate:
		ctrl.LoggerFrom(ctx).V(1).Info("Dashboard differs", "id", obs.ID, "diff", obs.Diff)
		updated, err := ext.UpdateDashboard(ctx, uid, obs.ID, want)
		if err != nil {
			return fail(err)
		}
		team.Status.Dashboard = dashboardStatus(settings, &updated, want.Hash)
	}
	return ctrl.Result{}
}

func dashboardStatus(s datadog.Settings, d interface {
	GetId() string
	GetUrl() string
	GetModifiedAt() time.Time
}, hash string) *platformv1alpha1.TeamDashboard {
	return &platformv1alpha1.TeamDashboard{ID: d.GetId(), URL: s.AppURL() + d.GetUrl(), Hash: hash, ModifiedAt: d.GetModifiedAt().Format(time.RFC3339Nano)}
}

// teamSLOs are the ServiceSLOs with an SLO in Datadog in the namespaces whose team this is, by
// the rule the ServiceSLOs' own team follows (tenancy.NamespaceTeam): the team's tenants', and
// namespaces labelled for the team that are no tenant's (managed ones whose tenant is gone,
// released ones, SREs' own). Every one of them is read from a cache.
func (r *Reconciler) teamSLOs(ctx context.Context, team string, tenants []platformv1alpha1.TenantNamespace, managed tenancy.TeamNamespaces) ([]datadog.TeamSLO, error) {
	namespaces := map[string]bool{}
	for _, t := range tenants {
		namespaces[t.Name] = true
	}
	var unmanaged metav1.PartialObjectMetadataList
	unmanaged.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.Unmanaged.List(ctx, &unmanaged, client.MatchingLabels{platformv1alpha1.LabelTeam: team}); err != nil {
		return nil, err
	}
	labelled := managed.Live()
	for _, ns := range unmanaged.Items {
		labelled = append(labelled, ns.Name)
	}
	for _, ns := range labelled {
		if namespaces[ns] {
			continue
		}
		owner, err := tenancy.NamespaceTeam(ctx, tenancy.CacheFirst{Cache: r.Client, API: r.APIReader}, ns)
		if err != nil {
			return nil, err
		}
		namespaces[ns] = owner == team
	}
	var out []datadog.TeamSLO
	for ns, ours := range namespaces {
		if !ours {
			continue
		}
		var list platformv1alpha1.ServiceSLOList
		if err := r.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		for _, s := range list.Items {
			if s.Status.SLOID == "" || !s.DeletionTimestamp.IsZero() {
				continue
			}
			ts := datadog.TeamSLO{ID: s.Status.SLOID, Name: fmt.Sprintf("%s (%s/%s)", s.Spec.Service, s.Namespace, s.Name)}
			for _, o := range s.Spec.Objectives {
				ts.Timeframes = append(ts.Timeframes, string(o.Timeframe))
			}
			out = append(out, ts)
		}
	}
	return out, nil
}

// sloDelay gathers a burst of ServiceSLOs that get or lose their SLO (a GitOps sync of many)
// into one write of their team's dashboard.
const sloDelay = 5 * time.Second

// onSLOs enqueues, after sloDelay, the Team of a ServiceSLO that gets or loses its SLO in
// Datadog, or goes: the SLO joins or leaves its team's dashboard within seconds rather than at
// the next poll.
func (r *Reconciler) onSLOs() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	enqueue := func(ctx context.Context, q queue, o client.Object) {
		team, err := tenancy.NamespaceTeam(ctx, tenancy.CacheFirst{Cache: r.Client, API: r.APIReader}, o.GetNamespace())
		if err == nil && team != "" {
			q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Name: team}}, sloDelay)
		}
	}
	sloID := func(o client.Object) string {
		if s, ok := o.(*platformv1alpha1.ServiceSLO); ok {
			return s.Status.SLOID
		}
		return ""
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) {
			if sloID(e.Object) != "" {
				enqueue(ctx, q, e.Object)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q queue) { enqueue(ctx, q, e.Object) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			if sloID(e.ObjectOld) != sloID(e.ObjectNew) {
				enqueue(ctx, q, e.ObjectNew)
			}
		},
	}
}
