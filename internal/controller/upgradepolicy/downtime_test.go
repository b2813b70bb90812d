package upgradepolicy_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// activeDowntimes returns the fake's downtimes that are not canceled and have not ended (as of
// the fake's own clock, the real one).
func activeDowntimes() []map[string]any {
	return slices.DeleteFunc(fake.Downtimes(), func(d map[string]any) bool {
		end, _ := d["end"].(int64)
		return d["canceled"] != nil || end <= time.Now().Unix()
	})
}

// TestUpgradeWindowMutesDisruptedBaselineMonitors: a window that opens with upgrades allowed
// schedules exactly one Datadog downtime, bounded to the window, for this cluster's monitors
// tagged as disrupted by upgrades — though Datadog stores the create and its answer is lost
// (a 502) —; re-evaluating changes nothing; a window that closes cancels it.
func TestUpgradeWindowMutesDisruptedBaselineMonitors(t *testing.T) {
	ctx := context.Background()
	// The fake's downtimes live on the real clock: the window is around the real now.
	now := time.Now().UTC()
	opens := now.Truncate(time.Hour).Add(-time.Hour)
	clock.Set(now)
	class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "drained"}, Spec: platformv1alpha1.TenantClassSpec{
		Monitoring: &platformv1alpha1.ClassMonitoring{Baseline: []platformv1alpha1.BaselineMonitor{{Name: "crash-loop", Template: platformv1alpha1.BaselineCrashLooping}}}}}
	Must(t, admin.Create(ctx, class))
	policy := &platformv1alpha1.ClusterUpgradePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "drain"},
		Spec: platformv1alpha1.ClusterUpgradePolicySpec{MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{
			Name: "now", DaysOfWeek: []platformv1alpha1.Weekday{platformv1alpha1.Weekday(opens.Weekday().String())},
			Start: opens.Format("15:04"), Duration: "4h", TimeZone: "UTC"}}},
	}
	fake.LoseAnswers("POST /api/v1/downtime", 1, http.StatusBadGateway)
	Must(t, admin.Create(ctx, policy))
	t.Cleanup(func() {
		fake.LoseAnswers("POST /api/v1/downtime", 0, 0)
		_ = admin.Delete(ctx, policy)
		_ = admin.Delete(ctx, class)
	})
	p := waitAllowed(t, "drain", metav1.ConditionTrue, platformv1alpha1.ReasonInsideWindow)
	Eventually(t, 20*time.Second, "the policy reports its downtime", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKey{Name: "drain"}, p))
		return p.Status.Downtime != nil
	})
	fake.LoseAnswers("POST /api/v1/downtime", 0, 0)
	end := opens.Add(4 * time.Hour)
	active := activeDowntimes()
	if len(active) != 1 || fake.Requests()["POST /api/v1/downtime"] != 1 {
		t.Fatalf("%d downtimes in force in Datadog after %d creates whose answers were lost, want 1 after 1: %v", len(active), fake.Requests()["POST /api/v1/downtime"], active)
	}
	d := active[0]
	if d["id"] != p.Status.Downtime.ID || d["end"] != end.Unix() || !p.Status.Downtime.End.Time.Equal(end) {
		t.Errorf("downtime %v ends %v; status %+v; want it to end with the window at %s", d["id"], d["end"], p.Status.Downtime, end)
	}
	var kubeSystem metav1.PartialObjectMetadata
	kubeSystem.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("Namespace"))
	kubeSystem.APIVersion = "v1"
	Must(t, admin.Get(ctx, client.ObjectKey{Name: "kube-system"}, &kubeSystem))
	wantTags := []any{datadog.TagClusterPrefix + string(kubeSystem.UID), datadog.TagUpgradeDisrupted}
	if tags, _ := d["monitor_tags"].([]any); !slices.Equal(tags, wantTags) {
		t.Errorf("downtime mutes monitors tagged %v, want %v (this cluster's disrupted ones only)", tags, wantTags)
	}

	// Evaluated again inside the window: nothing new.
	requests := fake.Requests()
	poke(t, "drain")
	Eventually(t, 20*time.Second, "the poke is evaluated", func() bool { return fake.Requests()["GET /api/v1/downtime"] > requests["GET /api/v1/downtime"] })
	for _, route := range []string{"POST /api/v1/downtime", "PUT /api/v1/downtime/{id}", "DELETE /api/v1/downtime/{id}"} {
		if n := fake.Requests()[route] - requests[route]; n != 0 {
			t.Errorf("%s: %d calls when the policy was evaluated again inside the window, want 0", route, n)
		}
	}

	// The window closes.
	clock.Set(end.Add(time.Minute))
	poke(t, "drain")
	waitAllowed(t, "drain", metav1.ConditionFalse, platformv1alpha1.ReasonOutsideWindow)
	Eventually(t, 20*time.Second, "the downtime is canceled and gone from status", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKey{Name: "drain"}, p))
		return p.Status.Downtime == nil && len(activeDowntimes()) == 0
	})
}
