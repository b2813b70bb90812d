package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

func TestTwoPoliciesForOneGKEClusterAreRejected(t *testing.T) {
	ctx := context.Background()
	policy := func(name, cluster string) *platformv1alpha1.ClusterUpgradePolicy {
		return &platformv1alpha1.ClusterUpgradePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: platformv1alpha1.ClusterUpgradePolicySpec{
				MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "w", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday"}, Start: "05:00", Duration: "4h", TimeZone: "UTC"}},
				Provider:           &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: cluster}},
			},
		}
	}
	Must(t, k8sClient.Create(ctx, policy("first", "shared-prod")))
	Eventually(t, 10*time.Second, "the cache holds the first policy", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "first"}, &platformv1alpha1.ClusterUpgradePolicy{}) == nil
	})
	err := k8sClient.Create(ctx, policy("second", "shared-prod"))
	if err == nil || !strings.Contains(err.Error(), "spec.provider.gke") || !strings.Contains(err.Error(), "already governed by ClusterUpgradePolicy first") {
		t.Errorf("a second policy for the same cluster: %v", err)
	}
	Must(t, k8sClient.Create(ctx, policy("other-cluster", "shared-staging")))
}
