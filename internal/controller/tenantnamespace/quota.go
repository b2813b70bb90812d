package tenantnamespace

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/metrics"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// QuotaName is the tenant's ResourceQuota.
const QuotaName = tenancy.QuotaName

// reconcileQuota keeps the tenant's ResourceQuota at the hard limits in effect (the tenant's,
// or the class default), removes it when there are none, and copies its usage into status. It
// sets QuotaReady.
func (r *Reconciler) reconcileQuota(ctx context.Context, s *scope) (ctrl.Result, error) {
	var cur corev1.ResourceQuota
	exists, err := r.getChild(ctx, s, QuotaName, &cur)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(s.Quota) == 0 {
		s.setQuotaUsage(nil)
		s.setCondition(platformv1alpha1.ConditionQuotaPressure, metav1.ConditionFalse, tenancy.ReasonQuotaBelowThresholds, "the namespace has no quota")
		r.pressure.Store(s.tenant.UID, tenancy.BelowThresholds)
		metrics.QuotaUsedRatio.DeletePartialMatch(prometheus.Labels{"tenant": s.tenant.Name})
		if err := r.notRequested(ctx, s, exists, &cur, platformv1alpha1.ConditionQuotaReady, "neither the tenant nor its class sets a quota"); err != nil {
			return ctrl.Result{}, err
		}
		r.budgets.applied(s.team, s.tenant, nil)
		return ctrl.Result{}, nil
	}
	desired := corev1ac.ResourceQuota(QuotaName, s.tenant.Name).
		WithLabels(childLabels(s.tenant)).
		WithOwnerReferences(ownerReference(s.tenant)).
		WithSpec(corev1ac.ResourceQuotaSpec().WithHard(s.Quota))
	_, err = applyChild(ctx, r, s, "ResourceQuota", QuotaName, &cur, exists, desired)
	if err != nil {
		s.setCondition(platformv1alpha1.ConditionQuotaReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
		return ctrl.Result{}, fmt.Errorf("applying ResourceQuota: %w", err)
	}
	r.budgets.applied(s.team, s.tenant, s.Quota)
	result := r.reportQuotaUsage(s, cur.Status, time.Now())
	if s.overBudget != "" {
		// Applied as far as the team's budget allows; look again for room (a tenant that goes
		// brings it back at once, one that shrinks does not).
		s.setCondition(platformv1alpha1.ConditionQuotaReady, metav1.ConditionFalse, tenancy.ReasonOverBudget, s.overBudget)
		if result.RequeueAfter == 0 || result.RequeueAfter > budgetRecheck {
			result.RequeueAfter = budgetRecheck
		}
		return result, nil
	}
	s.setCondition(platformv1alpha1.ConditionQuotaReady, metav1.ConditionTrue, ReasonProvisioned, "ResourceQuota "+QuotaName+" enforces the tenant's limits")
	return result, nil
}

// usageInterval is the most often a tenant's quota usage is written to its status while its
// pressure level stays the same: pods come and go all day, and a status write for each would
// load the apiserver for nothing.
const usageInterval = time.Minute

// reportQuotaUsage sets the quota usage in status, the QuotaPressure condition (with an Event
// when the level changes: Warning when it rises, Normal when it falls) and the used-ratio
// metric. Usage that changed without changing the level is written at most once per
// usageInterval: the result asks to come back when the interval is over.
func (r *Reconciler) reportQuotaUsage(s *scope, rq corev1.ResourceQuotaStatus, now time.Time) ctrl.Result {
	prev := s.tenant.Status.Quota
	prevLevel := tenancy.BelowThresholds
	cond := s.condition(platformv1alpha1.ConditionQuotaPressure)
	if cond != nil {
		prevLevel = tenancy.LevelOf(cond.Reason)
	}
	announced := cond != nil
	if level, ok := r.pressure.Load(s.tenant.UID); ok {
		prevLevel, announced = level.(tenancy.Level), true
	}
	p := tenancy.PressureOf(prevLevel, rq.Hard, rq.Used, tenancy.ThresholdsFor(s.team, s.class))
	for name, ratio := range p.Ratio {
		metrics.QuotaUsedRatio.WithLabelValues(s.tenant.Spec.Team, s.tenant.Name, string(name)).Set(ratio)
	}

	usage := &platformv1alpha1.QuotaUsage{Hard: rq.Hard, Used: rq.Used, UsedPercent: p.Percent, Updated: &metav1.Time{Time: now}}
	var result ctrl.Result
	if prev != nil && prev.Updated != nil && equality.Semantic.DeepEqual(prev.Hard, rq.Hard) && p.Level == prevLevel && cond != nil {
		switch age := now.Sub(prev.Updated.Time); {
		case equality.Semantic.DeepEqual(prev.Used, rq.Used):
			usage = prev // nothing new: no write
		case age < usageInterval:
			usage = prev
			result.RequeueAfter = usageInterval - age
		}
	}
	s.setQuotaUsage(usage)

	status := metav1.ConditionTrue
	if p.Level == tenancy.BelowThresholds {
		status = metav1.ConditionFalse
	}
	s.setCondition(platformv1alpha1.ConditionQuotaPressure, status, p.Level.Reason(), p.Message)
	r.pressure.Store(s.tenant.UID, p.Level)
	if p.Level != prevLevel && (announced || p.Level != tenancy.BelowThresholds) {
		typ := corev1.EventTypeNormal
		if p.Level > prevLevel {
			typ = corev1.EventTypeWarning
		}
		r.eventf(s.tenant, typ, p.Level.Reason(), "Measure", "Quota %s", p.Message)
	}
	return result
}

// getChild reads a child of the tenant from the cache; exists is false when it is missing.
func (r *Reconciler) getChild(ctx context.Context, s *scope, name string, obj client.Object) (exists bool, err error) {
	err = r.Client.Get(ctx, client.ObjectKey{Namespace: s.tenant.Name, Name: name}, obj)
	if err == nil {
		return true, nil
	}
	return false, client.IgnoreNotFound(err)
}
