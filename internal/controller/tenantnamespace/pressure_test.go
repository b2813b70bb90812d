package tenantnamespace_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// pod is a pod that never runs (envtest has no kubelet) but counts against the quota.
func pod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
}

// pressureOf waits for the tenant's QuotaPressure reason.
func waitPressure(t *testing.T, name, reason string) *platformv1alpha1.TenantNamespace {
	t.Helper()
	var tn platformv1alpha1.TenantNamespace
	Eventually(t, 60*time.Second, name+" QuotaPressure "+reason, func() bool {
		Must(t, get(t, &tn, "", name))
		c := meta.FindStatusCondition(tn.Status.Conditions, platformv1alpha1.ConditionQuotaPressure)
		return c != nil && c.Reason == reason
	})
	return &tn
}

// eventsOf lists the reasons and types of the Events about a tenant, oldest first.
func eventsOf(t *testing.T, name string) []string {
	t.Helper()
	var list eventsv1.EventList
	Must(t, admin.List(context.Background(), &list, client.InNamespace(metav1.NamespaceDefault)))
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "TenantNamespace" && e.Regarding.Name == name && strings.HasPrefix(e.Reason, "Quota") {
			out = append(out, e.Type+" "+e.Reason)
		}
	}
	return out
}

// TestQuotaPressureWarnsBeforeTheWall: with kube-controller-manager counting pods, a tenant
// whose quota fills up is told at 80 % (QuotaWarning, a Warning Event), at 95 % (QuotaCritical),
// and when it is well below again (QuotaBelowThresholds, a Normal Event); Ready stays True.
func TestQuotaPressureWarnsBeforeTheWall(t *testing.T) {
	ctx := context.Background()
	tn := newTenant("pressure", "ops")
	tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}}
	Must(t, admin.Create(ctx, tn))
	waitReady(t, "pressure")
	waitPressure(t, "pressure", "QuotaBelowThresholds")
	for i := range 8 {
		Must(t, admin.Create(ctx, pod("pressure", fmt.Sprintf("p%d", i))))
	}
	got := waitPressure(t, "pressure", "QuotaWarning")
	if c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.ConditionQuotaPressure); c.Status != metav1.ConditionTrue || c.Message != "pods at 80 % of 10 (warning at 80 %, critical at 95 %)" {
		t.Errorf("QuotaPressure %+v", c)
	}
	if !meta.IsStatusConditionTrue(got.Status.Conditions, platformv1alpha1.ConditionReady) {
		t.Error("quota pressure made the tenant unready; it is a warning")
	}
	for i := 8; i < 10; i++ {
		Must(t, admin.Create(ctx, pod("pressure", fmt.Sprintf("p%d", i))))
	}
	waitPressure(t, "pressure", "QuotaCritical")
	for i := range 5 {
		Must(t, admin.Delete(ctx, pod("pressure", fmt.Sprintf("p%d", i))))
	}
	waitPressure(t, "pressure", "QuotaBelowThresholds")
	// One Event per level crossed, no more: kube-controller-manager may count the deletions one
	// by one, passing through QuotaWarning on the way down, or all at once.
	want := regexp.MustCompile(`^Warning QuotaWarning,Warning QuotaCritical,(Normal QuotaWarning,)?Normal QuotaBelowThresholds$`)
	if !Within(20*time.Second, func() bool { return want.MatchString(strings.Join(eventsOf(t, "pressure"), ",")) }) {
		t.Errorf("Events %v, want %s", eventsOf(t, "pressure"), want)
	}
}

// TestQuotaUsageBelowThresholdsIsWrittenOncePerMinute: pods coming and going below the warning
// threshold change the ResourceQuota's usage each time; the tenant's status takes it at most
// once a minute, so the burst costs no status write until then.
func TestQuotaUsageBelowThresholdsIsWrittenOncePerMinute(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, newTenant("churn", "ops")))
	waitReady(t, "churn")
	tn := waitPressure(t, "churn", "QuotaBelowThresholds")
	Eventually(t, 30*time.Second, "the first usage is reported", func() bool {
		Must(t, get(t, tn, "", "churn"))
		return tn.Status.Quota != nil && tn.Status.Quota.Updated != nil
	})
	writes := op.Requests.Writes()
	for i := range 10 {
		Must(t, admin.Create(ctx, pod("churn", fmt.Sprintf("c%d", i))))
	}
	var rq corev1.ResourceQuota
	Eventually(t, 30*time.Second, "kube-controller-manager counted the 10 pods", func() bool {
		Must(t, get(t, &rq, "churn", "selfserve-quota"))
		used := rq.Status.Used[corev1.ResourcePods]
		return used.Value() == 10
	})
	statusWrites := 0
	for _, w := range op.Requests.WritesSince(writes) {
		if strings.Contains(w, "/tenantnamespaces/churn/status") {
			statusWrites++
		}
	}
	Must(t, get(t, tn, "", "churn"))
	age := time.Since(tn.Status.Quota.Updated.Time)
	t.Logf("10 pods (50 %% of the quota): %d status writes; usage in status is %s old", statusWrites, age.Round(time.Second))
	if statusWrites > 1 {
		t.Errorf("%d status writes for 10 pods below the thresholds, want at most 1", statusWrites)
	}
	used := tn.Status.Quota.Used[corev1.ResourcePods]
	Eventually(t, 90*time.Second, "the usage reaches status within a minute", func() bool {
		Must(t, get(t, tn, "", "churn"))
		used = tn.Status.Quota.Used[corev1.ResourcePods]
		return used.Value() == 10
	})
}
