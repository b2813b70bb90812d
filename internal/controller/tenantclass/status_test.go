package tenantclass

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestSummarize(t *testing.T) {
	tenant := func(within metav1.ConditionStatus) platformv1alpha1.TenantNamespace {
		var tn platformv1alpha1.TenantNamespace
		meta.SetStatusCondition(&tn.Status.Conditions, metav1.Condition{Type: platformv1alpha1.ConditionWithinClass, Status: within, Reason: "X"})
		return tn
	}
	tests := []struct {
		name          string
		isDefault     bool
		tenants       []platformv1alpha1.TenantNamespace
		otherDefaults []string
		wantReady     metav1.ConditionStatus
		wantStalled   bool
		wantReason    string
		wantMessage   string
		wantObserved  int64
	}{
		{name: "unused class", wantReady: metav1.ConditionTrue, wantReason: ReasonAccepted, wantMessage: "no tenant uses this class", wantObserved: 3},
		{name: "tenants within", tenants: []platformv1alpha1.TenantNamespace{tenant(metav1.ConditionTrue), tenant(metav1.ConditionTrue)},
			wantReady: metav1.ConditionTrue, wantReason: ReasonAccepted, wantMessage: "2 tenants use this class", wantObserved: 3},
		{name: "a tightened class counts the tenants above it", tenants: []platformv1alpha1.TenantNamespace{tenant(metav1.ConditionTrue), tenant(metav1.ConditionFalse)},
			wantReady: metav1.ConditionTrue, wantReason: ReasonAccepted, wantMessage: "2 tenants use this class; above the class since it was tightened: 1 ", wantObserved: 3},
		{name: "a non-default class ignores other defaults", otherDefaults: []string{"a"},
			wantReady: metav1.ConditionTrue, wantReason: ReasonAccepted, wantObserved: 3},
		{name: "a second default stalls", isDefault: true, otherDefaults: []string{"a", "b"}, tenants: []platformv1alpha1.TenantNamespace{tenant(metav1.ConditionTrue)},
			wantReady: metav1.ConditionFalse, wantStalled: true, wantReason: ReasonDuplicateDefault, wantMessage: "TenantClass a, b also claim", wantObserved: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "c", Generation: 3}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: tt.isDefault}}
			summarize(class, tt.tenants, tt.otherDefaults)
			if got := class.Status.Tenants; got != int32(len(tt.tenants)) {
				t.Errorf("tenants = %d, want %d", got, len(tt.tenants))
			}
			ready := meta.FindStatusCondition(class.Status.Conditions, platformv1alpha1.ConditionReady)
			if ready == nil || ready.Status != tt.wantReady || ready.Reason != tt.wantReason || !strings.Contains(ready.Message, tt.wantMessage) {
				t.Errorf("Ready = %+v, want %s %s containing %q", ready, tt.wantReady, tt.wantReason, tt.wantMessage)
			}
			if got := meta.IsStatusConditionTrue(class.Status.Conditions, platformv1alpha1.ConditionStalled); got != tt.wantStalled {
				t.Errorf("Stalled = %v, want %v", got, tt.wantStalled)
			}
			if meta.FindStatusCondition(class.Status.Conditions, platformv1alpha1.ConditionReconciling) != nil {
				t.Errorf("Reconciling is set; a class never waits on anything")
			}
			if class.Status.ObservedGeneration != tt.wantObserved {
				t.Errorf("observedGeneration = %d, want %d", class.Status.ObservedGeneration, tt.wantObserved)
			}
		})
	}
}
