package upgradepolicy

import (
	"testing"

	container "google.golang.org/api/container/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestSummarize(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: "m"}
	}
	gatesOK := cond(platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionTrue, platformv1alpha1.ReasonGatesEvaluated)
	cases := []struct {
		name        string
		conditions  []metav1.Condition
		wantReady   bool
		wantStalled bool
		wantReason  string
	}{
		{"gates read, no provider", []metav1.Condition{gatesOK, cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionTrue, platformv1alpha1.ReasonProviderNotConfigured)}, true, false, "Evaluated"},
		{"gates read, GKE synced", []metav1.Condition{gatesOK, cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionTrue, platformv1alpha1.ReasonProviderSynced)}, true, false, "Evaluated"},
		{"GKE failing: retried, not Ready", []metav1.Condition{gatesOK, cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionFalse, platformv1alpha1.ReasonSyncFailed)}, false, false, platformv1alpha1.ReasonSyncFailed},
		{"a policy GKE would refuse: stalled", []metav1.Condition{gatesOK, cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionFalse, platformv1alpha1.ReasonProviderInvalid)}, false, true, platformv1alpha1.ReasonProviderInvalid},
		{"a gate that cannot be read", []metav1.Condition{cond(platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionFalse, platformv1alpha1.ReasonGateUnavailable), cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionTrue, platformv1alpha1.ReasonProviderSynced)}, false, false, platformv1alpha1.ReasonGateUnavailable},
		{"a schedule that cannot be read: stalled", []metav1.Condition{cond(platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionFalse, ReasonInvalidSchedule), cond(platformv1alpha1.ConditionProviderSynced, metav1.ConditionFalse, ReasonInvalidSchedule)}, false, true, ReasonInvalidSchedule},
		{"not evaluated yet", nil, false, false, "Pending"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p := &platformv1alpha1.ClusterUpgradePolicy{Status: platformv1alpha1.ClusterUpgradePolicyStatus{Conditions: tt.conditions}}
			o := summarize(p)
			if o.Ready != tt.wantReady || o.Stalled != tt.wantStalled || o.Reason != tt.wantReason {
				t.Errorf("outcome %+v, want ready %v, stalled %v, reason %s", o, tt.wantReady, tt.wantStalled, tt.wantReason)
			}
		})
	}
}

// TestDescribeWindowTakesWhatGKEReturns: a start time GKE returns in another form than RFC 3339
// (or cut short) is reported as it is, never sliced into a panic.
func TestDescribeWindowTakesWhatGKEReturns(t *testing.T) {
	cases := map[string]*container.RecurringTimeWindow{
		"FREQ=WEEKLY;BYDAY=TU at 03:00 UTC for 4h0m0s": {Recurrence: "FREQ=WEEKLY;BYDAY=TU", Window: &container.TimeWindow{StartTime: "2026-12-01T04:00:00+01:00", EndTime: "2026-12-01T07:00:00Z"}},
		`FREQ=WEEKLY;BYDAY=TU from "2026" to ""`:       {Recurrence: "FREQ=WEEKLY;BYDAY=TU", Window: &container.TimeWindow{StartTime: "2026"}},
		"no recurring window":                          {Recurrence: "FREQ=DAILY"},
	}
	for want, w := range cases {
		if got := describeWindow(w); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if got := describeWindow(nil); got != "no recurring window" {
		t.Errorf("nil: %q", got)
	}
}

// TestTheNodeCacheKeepsOnlyKubeletVersions: the cache's transform keeps a Node's name and kubelet
// version, nothing of its labels, images or conditions.
func TestTheNodeCacheKeepsOnlyKubeletVersions(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"pool": "a"}, ResourceVersion: "7"},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "COS"}, Images: []corev1.ContainerImage{{Names: []string{"x"}}}}}
	out, err := NodeVersionOnly(n)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Node)
	want := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", ResourceVersion: "7"}, Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"}}}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("kept %+v", got)
	}
	if other, _ := NodeVersionOnly("tombstone"); other != "tombstone" {
		t.Errorf("a value that is not a Node is changed: %v", other)
	}
}
