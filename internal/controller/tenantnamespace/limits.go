package tenantnamespace

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// LimitRangeName is the tenant's LimitRange.
const LimitRangeName = tenancy.LimitRangeName

// reconcileLimits keeps the tenant's LimitRange at the container defaults and bounds in effect
// (the tenant's, or the class default) and removes it when there are none. It sets LimitsReady.
func (r *Reconciler) reconcileLimits(ctx context.Context, s *scope) (ctrl.Result, error) {
	var cur corev1.LimitRange
	exists, err := r.getChild(ctx, s, LimitRangeName, &cur)
	if err != nil {
		return ctrl.Result{}, err
	}
	l := s.Limits
	if l == nil || len(l.Default)+len(l.DefaultRequest)+len(l.Max)+len(l.Min) == 0 {
		return ctrl.Result{}, r.notRequested(ctx, s, exists, &cur, platformv1alpha1.ConditionLimitsReady, "neither the tenant nor its class sets container limits")
	}
	def, defReq := defaultedLimits(l)
	item := corev1ac.LimitRangeItem().WithType(corev1.LimitTypeContainer)
	if len(def) > 0 {
		item.WithDefault(def)
	}
	if len(defReq) > 0 {
		item.WithDefaultRequest(defReq)
	}
	if len(l.Max) > 0 {
		item.WithMax(l.Max)
	}
	if len(l.Min) > 0 {
		item.WithMin(l.Min)
	}
	desired := corev1ac.LimitRange(LimitRangeName, s.tenant.Name).
		WithLabels(childLabels(s.tenant)).
		WithOwnerReferences(ownerReference(s.tenant)).
		WithSpec(corev1ac.LimitRangeSpec().WithLimits(item))
	_, err = applyChild(ctx, r, s, "LimitRange", LimitRangeName, &cur, exists, desired)
	if err != nil {
		s.setCondition(platformv1alpha1.ConditionLimitsReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
		return ctrl.Result{}, fmt.Errorf("applying LimitRange: %w", err)
	}
	s.setCondition(platformv1alpha1.ConditionLimitsReady, metav1.ConditionTrue, ReasonProvisioned, "LimitRange "+LimitRangeName+" sets container defaults")
	return ctrl.Result{}, nil
}

// defaultedLimits fills default and defaultRequest the way the apiserver defaults a LimitRange
// item (a missing default limit comes from max; a missing default request from the default
// limit, then from min). Applying the defaulted form makes what is read back equal what was
// applied, so an unchanged LimitRange is never written again.
func defaultedLimits(l *platformv1alpha1.ContainerLimits) (def, defReq corev1.ResourceList) {
	def, defReq = l.Default.DeepCopy(), l.DefaultRequest.DeepCopy()
	if def == nil {
		def = corev1.ResourceList{}
	}
	if defReq == nil {
		defReq = corev1.ResourceList{}
	}
	for name, q := range l.Max {
		if _, ok := def[name]; !ok {
			def[name] = q.DeepCopy()
		}
	}
	for name, q := range def {
		if _, ok := defReq[name]; !ok {
			defReq[name] = q.DeepCopy()
		}
	}
	for name, q := range l.Min {
		if _, ok := defReq[name]; !ok {
			defReq[name] = q.DeepCopy()
		}
	}
	return def, defReq
}
