package conditions

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// TestKstatusReadsEveryVerdict: an object at generation 2, last evaluated at generation 1, gets
// an outcome for generation 2; kstatus (what Flux and Argo CD compute) reads Current when it is
// Ready, Failed when it stalled (waiting for an approval, rejected, refused by Datadog), and
// InProgress only while the controller is still working.
func TestKstatusReadsEveryVerdict(t *testing.T) {
	cases := []struct {
		name    string
		outcome Outcome
		want    kstatus.Status
	}{
		{"ready", Outcome{Ready: true, Reason: "Ready", Message: "all set"}, kstatus.CurrentStatus},
		{"stalled: a changed spec waits for approval", Outcome{Stalled: true, Reason: "AwaitingApproval", Message: "an admin must approve"}, kstatus.FailedStatus},
		{"still working: a retry", Outcome{Reason: "DatadogError", Message: "503, retried"}, kstatus.InProgressStatus},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conds := []metav1.Condition{}
			observed := int64(1)
			if Summarize(&conds, 2, c.outcome) {
				observed = 2
			}
			status := map[string]any{"observedGeneration": observed}
			raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&struct {
				Conditions []metav1.Condition `json:"conditions"`
			}{conds})
			if err != nil {
				t.Fatal(err)
			}
			status["conditions"] = raw["conditions"]
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "platform.selfserve.dev/v1alpha1", "kind": "TenantNamespace",
				"metadata": map[string]any{"name": "payments", "generation": int64(2)}, "status": status,
			}}
			res, err := kstatus.Compute(u)
			if err != nil || res.Status != c.want {
				t.Errorf("kstatus %v (%v), want %s", res, err, c.want)
			}
		})
	}
}
