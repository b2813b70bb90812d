package upgradepolicy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	container "google.golang.org/api/container/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/internal/schedule"
)

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

// reconcileProvider keeps the provider's maintenance policy in line and sets ProviderSynced:
// True when it holds the policy (or there is none), False with reason Invalid for a policy it
// would refuse (not sent; only a spec change helps), False with reason SyncFailed when the call
// failed, whose error is returned so the work queue backs off and retries.
func (r *Reconciler) reconcileProvider(ctx context.Context, s *scope) (ctrl.Result, error) {
	st, err := r.syncProvider(ctx, s.policy, s.windows, s.exclusions, s.hold, s.now)
	s.policy.Status.Provider = st
	return ctrl.Result{}, err
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
	window, errs := gke.Translate(windows, exclusions, gke.MayHold(p.Spec), now)
	if len(errs) > 0 {
		return invalid(errs.ToAggregate().Error() + "; the policy was not sent to GKE")
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
	st.ForeignExclusions = res.Foreign
	if err != nil {
		return failed(err)
	}
	st.State = "Synced"
	st.Message = "GKE's maintenance policy matches: " + describeWindow(window)
	if len(res.Foreign) > 0 {
		st.Message += fmt.Sprintf("; %d exclusions made outside selfserve kept (%s)", len(res.Foreign), strings.Join(res.Foreign, ", "))
	}
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

// describeWindow says what GKE's recurring window is, for the status ("FREQ=WEEKLY;BYDAY=TU at
// 03:00 UTC for 4h0m0s").
func describeWindow(w *container.RecurringTimeWindow) string {
	if w == nil || w.Window == nil {
		return "no recurring window"
	}
	start, err1 := time.Parse(time.RFC3339, w.Window.StartTime)
	end, err2 := time.Parse(time.RFC3339, w.Window.EndTime)
	if err1 != nil || err2 != nil {
		return fmt.Sprintf("%s from %q to %q", w.Recurrence, w.Window.StartTime, w.Window.EndTime)
	}
	return fmt.Sprintf("%s at %s UTC for %s", w.Recurrence, start.UTC().Format("15:04"), end.Sub(start))
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
