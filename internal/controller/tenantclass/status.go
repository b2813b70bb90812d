package tenantclass

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/conditions"
)

// Reasons of a class's Ready condition.
const (
	// ReasonAccepted: the class is in effect for the tenants that use it.
	ReasonAccepted = "Accepted"
	// ReasonDuplicateDefault: another class claims to be the default too, so tenants that name
	// no class cannot be provisioned until only one does.
	ReasonDuplicateDefault = "DuplicateDefault"
)

// summarize sets a class's status from the tenants that resolved to it and the names of the
// other classes that claim to be the default. It stamps observedGeneration when the class is
// in effect.
func summarize(class *platformv1alpha1.TenantClass, tenants []platformv1alpha1.TenantNamespace, otherDefaults []string) {
	class.Status.Tenants = int32(len(tenants))
	var outside int
	for _, t := range tenants {
		if meta.IsStatusConditionFalse(t.Status.Conditions, platformv1alpha1.ConditionWithinClass) {
			outside++
		}
	}
	o := conditions.Outcome{Ready: true, Reason: ReasonAccepted, Message: "no tenant uses this class"}
	switch len(tenants) {
	case 0:
	case 1:
		o.Message = "1 tenant uses this class"
	default:
		o.Message = fmt.Sprintf("%d tenants use this class", len(tenants))
	}
	if outside > 0 {
		o.Message += fmt.Sprintf("; above the class since it was tightened: %d (WithinClass=False says what; they keep what they have until their spec changes)", outside)
	}
	if class.Spec.IsDefault && len(otherDefaults) > 0 {
		o = conditions.Outcome{Stalled: true, Reason: ReasonDuplicateDefault, Message: fmt.Sprintf(
			"TenantClass %s also claims to be the default: tenants that name no class are not provisioned until exactly one class sets spec.isDefault: true",
			strings.Join(otherDefaults, ", "))}
	}
	if conditions.Summarize(&class.Status.Conditions, class.Generation, o) {
		class.Status.ObservedGeneration = class.Generation
	}
}

// ready is the class's Ready condition, empty when it has none yet.
func ready(class *platformv1alpha1.TenantClass) metav1.Condition {
	if c := meta.FindStatusCondition(class.Status.Conditions, platformv1alpha1.ConditionReady); c != nil {
		return *c
	}
	return metav1.Condition{}
}
