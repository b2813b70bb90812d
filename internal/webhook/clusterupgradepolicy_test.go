package webhook_test

import (
	"context"
	"fmt"
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
				MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "w", DaysOfWeek: []platformv1alpha1.Weekday{"Tuesday", "Wednesday", "Thursday"}, Start: "05:00", Duration: "4h", TimeZone: "UTC"}},
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

// TestPolicyGKEWouldRefuseIsRefusedAtAdmission: GKE's limits on a maintenance policy are
// checked when the SREs apply the policy, with the field to change, not discovered later in a
// ProviderSynced condition. The same policy without a GKE provider is accepted.
func TestPolicyGKEWouldRefuseIsRefusedAtAdmission(t *testing.T) {
	ctx := context.Background()
	start := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(24 * time.Hour)
	policy := func(name string, exclusions ...platformv1alpha1.Exclusion) *platformv1alpha1.ClusterUpgradePolicy {
		return &platformv1alpha1.ClusterUpgradePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: platformv1alpha1.ClusterUpgradePolicySpec{
				MaintenanceWindows: []platformv1alpha1.MaintenanceWindow{{Name: "nightly", DaysOfWeek: []platformv1alpha1.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
					Start: "00:00", Duration: "20h", TimeZone: "UTC"}},
				Exclusions: exclusions,
				Provider:   &platformv1alpha1.Provider{GKE: &platformv1alpha1.GKECluster{Project: "acme-prod-4711", Location: "europe-west1", Cluster: name}},
			},
		}
	}
	freeze := func(days int, scope platformv1alpha1.UpgradeScope) platformv1alpha1.Exclusion {
		return platformv1alpha1.Exclusion{Name: "freeze", Start: metav1.NewTime(start), End: metav1.NewTime(start.Add(time.Duration(days) * 24 * time.Hour)), Scope: scope}
	}
	err := k8sClient.Create(ctx, policy("long-freeze", freeze(31, platformv1alpha1.ScopeNoUpgrades)))
	if err == nil || !strings.Contains(err.Error(), "spec.exclusions[0].end") || !strings.Contains(err.Error(), "a NoUpgrades exclusion may last at most 30 days on GKE; this one lasts 31d") {
		t.Errorf("a 31-day NoUpgrades exclusion: %v", err)
	}
	Must(t, k8sClient.Create(ctx, policy("long-minor-freeze", freeze(120, platformv1alpha1.ScopeNoMinorUpgrades))))

	var many []platformv1alpha1.Exclusion
	for i := range 21 {
		s := start.Add(time.Duration(i) * 24 * time.Hour)
		many = append(many, platformv1alpha1.Exclusion{Name: fmt.Sprintf("day-%02d", i), Start: metav1.NewTime(s), End: metav1.NewTime(s.Add(time.Hour))})
	}
	err = k8sClient.Create(ctx, policy("many-freezes", many...))
	if err == nil || !strings.Contains(err.Error(), "spec.exclusions: Forbidden: GKE keeps at most 20 exclusions") {
		t.Errorf("21 exclusions: %v", err)
	}
	Must(t, k8sClient.Create(ctx, policy("twenty-freezes", many[:20]...)))

	weekly := policy("once-a-week")
	weekly.Spec.MaintenanceWindows[0].DaysOfWeek = []platformv1alpha1.Weekday{"Sunday"}
	weekly.Spec.MaintenanceWindows[0].Duration = "8h"
	err = k8sClient.Create(ctx, weekly)
	if err == nil || !strings.Contains(err.Error(), "spec.maintenanceWindows: Forbidden: GKE requires at least 48h0m0s of maintenance availability in any 32 days") {
		t.Errorf("8 hours a week: %v", err)
	}
	weekly.Spec.Provider = nil
	Must(t, k8sClient.Create(ctx, weekly)) // no GKE: GKE's limits do not apply
}
