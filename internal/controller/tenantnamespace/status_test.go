package tenantnamespace

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestSummarize(t *testing.T) {
	allTrue := func() []metav1.Condition {
		var out []metav1.Condition
		for _, c := range partConditions {
			out = append(out, metav1.Condition{Type: c, Status: metav1.ConditionTrue, Reason: ReasonProvisioned})
		}
		return out
	}
	withQuota := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		out := allTrue()
		out[2] = metav1.Condition{Type: platformv1alpha1.ConditionQuotaReady, Status: status, Reason: reason, Message: "boom"}
		return out
	}
	cases := []struct {
		name        string
		conditions  []metav1.Condition
		err         error
		wantReady   metav1.ConditionStatus
		wantReason  string
		wantPresent []string // of Reconciling, Stalled
		wantObsGen  int64
	}{
		{name: "every part ready", conditions: allTrue(), wantReady: metav1.ConditionTrue, wantReason: ReasonProvisioned, wantObsGen: 3},
		{name: "a part failed: reconciling, generation not stamped", conditions: withQuota(metav1.ConditionFalse, ReasonApplyFailed), err: errors.New("boom"),
			wantReady: metav1.ConditionFalse, wantReason: ReasonApplyFailed, wantPresent: []string{platformv1alpha1.ConditionReconciling}},
		{name: "a terminal error: stalled, the verdict stamps the generation", conditions: withQuota(metav1.ConditionTrue, ReasonProvisioned)[:1], err: reconcile.TerminalError(errors.New("taken")),
			wantReady: metav1.ConditionFalse, wantReason: "Pending", wantPresent: []string{platformv1alpha1.ConditionStalled}, wantObsGen: 3},
		{name: "class missing: stalled until it appears", conditions: withQuota(metav1.ConditionUnknown, ReasonClassNotFound),
			wantReady: metav1.ConditionFalse, wantReason: ReasonClassNotFound, wantPresent: []string{platformv1alpha1.ConditionStalled}, wantObsGen: 3},
		{name: "parts ready but the status write of a part failed", conditions: allTrue(), err: errors.New("conflict"),
			wantReady: metav1.ConditionFalse, wantReason: ReasonApplyFailed, wantPresent: []string{platformv1alpha1.ConditionReconciling}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			tenant := &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 3}}
			tenant.Status.Conditions = tt.conditions
			// A stale Reconciling from an earlier failure must go once ready.
			meta.SetStatusCondition(&tenant.Status.Conditions, metav1.Condition{Type: platformv1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: "Old"})
			summarize(tenant, tt.err)
			ready := meta.FindStatusCondition(tenant.Status.Conditions, platformv1alpha1.ConditionReady)
			if ready.Status != tt.wantReady || ready.Reason != tt.wantReason {
				t.Errorf("Ready = %s/%s, want %s/%s", ready.Status, ready.Reason, tt.wantReady, tt.wantReason)
			}
			var present []string
			for _, typ := range []string{platformv1alpha1.ConditionReconciling, platformv1alpha1.ConditionStalled} {
				if c := meta.FindStatusCondition(tenant.Status.Conditions, typ); c != nil {
					if c.Status != metav1.ConditionTrue {
						t.Errorf("%s present with status %s; kstatus wants it only when True", typ, c.Status)
					}
					present = append(present, typ)
				}
			}
			if diff := cmp.Diff(tt.wantPresent, present); diff != "" {
				t.Errorf("Reconciling/Stalled present (-want +got):\n%s", diff)
			}
			if tenant.Status.ObservedGeneration != tt.wantObsGen {
				t.Errorf("observedGeneration = %d, want %d", tenant.Status.ObservedGeneration, tt.wantObsGen)
			}
		})
	}
}

func TestDefaultedLimitsMatchTheApiserver(t *testing.T) {
	q := resource.MustParse
	got, gotReq := defaultedLimits(&platformv1alpha1.ContainerLimits{
		Default:        corev1.ResourceList{corev1.ResourceMemory: q("256Mi")},
		DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: q("100m")},
		Max:            corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("1Gi")},
		Min:            corev1.ResourceList{corev1.ResourceEphemeralStorage: q("1Mi")},
	})
	wantDef := corev1.ResourceList{corev1.ResourceMemory: q("256Mi"), corev1.ResourceCPU: q("2")}
	wantReq := corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("256Mi"), corev1.ResourceEphemeralStorage: q("1Mi")}
	if diff := cmp.Diff(wantDef.DeepCopy(), got); diff != "" {
		t.Errorf("default (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantReq, gotReq); diff != "" {
		t.Errorf("defaultRequest (-want +got):\n%s", diff)
	}
}
