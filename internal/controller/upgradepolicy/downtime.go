package upgradepolicy

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// ReasonDowntime is the reason of the Events about an upgrade window's Datadog downtime.
const ReasonDowntime = "UpgradeDowntime"

// downtimes is what the downtime step keeps between reconciles: the creates whose answer was
// lost, and the cluster's name in Datadog.
type downtimes struct {
	pending datadog.Pending
	cluster tenancy.Cluster
}

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// reconcileDowntime keeps one Datadog downtime, bounded to the window, while a window is open
// and upgrades are allowed, for this cluster's baseline monitors that upgrades disrupt (when any
// class has one); and cancels it when that ends. SLO burn-rate monitors are never muted: they
// do not carry the tag it mutes. A Datadog failure fails the reconcile, which is retried.
func (r *Reconciler) reconcileDowntime(ctx context.Context, s *scope) (ctrl.Result, error) {
	p := s.policy
	if r.Conn == nil {
		return ctrl.Result{}, nil
	}
	dd, _, err := r.Conn.Get(ctx)
	if err != nil || dd == nil {
		return ctrl.Result{}, err
	}
	uid := string(p.UID)
	ext := datadog.NewExternal(dd, nil, &r.downtimes.pending)
	open := s.answer.Allowed && s.answer.Current != nil
	if open {
		if open, err = r.anyDisrupted(ctx); err != nil {
			return ctrl.Result{}, err
		}
	}
	if !open {
		if p.Status.Downtime == nil && !ext.HasPendingDowntime(uid) {
			return ctrl.Result{}, nil
		}
		var id int64
		if p.Status.Downtime != nil {
			id = p.Status.Downtime.ID
		}
		if err := ext.CancelDowntimes(ctx, uid, id, s.now); err != nil {
			return ctrl.Result{}, fmt.Errorf("canceling the upgrade window's Datadog downtime: %w", err)
		}
		if id != 0 {
			r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonDowntime, "Cancel", "Canceled Datadog downtime %d: the upgrade window is closed or upgrades are held", id)
		}
		p.Status.Downtime = nil
		return ctrl.Result{}, nil
	}
	cluster, err := r.downtimes.cluster.ID(ctx, r.APIReader)
	if err != nil {
		return ctrl.Result{}, err
	}
	start, end := s.now, s.answer.Current.End
	var statusID int64
	if d := p.Status.Downtime; d != nil {
		start, statusID = d.Start.Time, d.ID
	}
	want := datadog.DesiredDowntime(p.Name, uid, cluster, start, end)
	obs, err := ext.ObserveDowntime(ctx, uid, statusID, want, s.now)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the upgrade window's Datadog downtime: %w", err)
	}
	for _, dup := range obs.Duplicates {
		if err := ext.CancelDowntime(ctx, dup); err != nil {
			return ctrl.Result{}, err
		}
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonDowntime, "Cancel", "Canceled Datadog downtime %d, a duplicate of %d (a create whose answer was lost)", dup, obs.ID)
	}
	id := obs.ID
	switch {
	case !obs.Exists:
		if id, err = ext.CreateDowntime(ctx, uid, want); err != nil {
			return ctrl.Result{}, fmt.Errorf("scheduling the upgrade window's Datadog downtime: %w", err)
		}
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonDowntime, "Create",
			"Scheduled Datadog downtime %d until %s for the baseline monitors that upgrades disrupt", id, end.UTC().Format(time.RFC3339))
	case !obs.UpToDate:
		if err := ext.UpdateDowntime(ctx, id, want); err != nil {
			return ctrl.Result{}, fmt.Errorf("updating the upgrade window's Datadog downtime: %w", err)
		}
	}
	p.Status.Downtime = &platformv1alpha1.UpgradeDowntime{ID: id, Start: metav1.NewTime(time.Unix(want.Start, 0)), End: metav1.NewTime(time.Unix(want.End, 0))}
	return ctrl.Result{}, nil
}

// anyDisrupted says whether any class has a baseline monitor that upgrades disrupt.
func (r *Reconciler) anyDisrupted(ctx context.Context) (bool, error) {
	var classes platformv1alpha1.TenantClassList
	if err := r.Client.List(ctx, &classes); err != nil {
		return false, err
	}
	for i := range classes.Items {
		if tenancy.DisruptedByUpgrades(&classes.Items[i]) {
			return true, nil
		}
	}
	return false, nil
}
