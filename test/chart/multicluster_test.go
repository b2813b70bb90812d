package chart

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selfserve-dev/selfserve/test/controlplane"
)

// TestMultiClusterExampleRendersWhatEachClusterAdmits renders the fleet example of
// docs/multi-cluster.md for each cluster, as Argo CD or Flux would, and has a real kube-apiserver
// with selfserve's CRDs admit every object (a server-side dry run: the schema and its CEL rules).
// Production follows staging; staging follows nobody.
func TestMultiClusterExampleRendersWhatEachClusterAdmits(t *testing.T) {
	cp, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Stop() }()
	c, err := cp.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, cluster := range []string{"staging", "production"} {
		objs := kustomizePath(t, "docs/examples/multi-cluster/clusters/"+cluster)
		for key, o := range objs {
			if err := c.Create(ctx, o, client.DryRunAll); err != nil {
				t.Errorf("%s: %s is refused: %v", cluster, key, err)
			}
		}
		policy := objs["ClusterUpgradePolicy /cluster"]
		if policy == nil {
			t.Fatalf("%s: no ClusterUpgradePolicy among %d objects", cluster, len(objs))
		}
		gkeCluster, _, _ := unstructured.NestedString(policy.Object, "spec", "provider", "gke", "cluster")
		if gkeCluster != cluster {
			t.Errorf("%s: the policy syncs GKE cluster %q", cluster, gkeCluster)
		}
		_, follows := policy.Object["spec"].(map[string]any)["rollout"]
		if follows != (cluster == "production") {
			t.Errorf("%s: has a rollout: %v", cluster, follows)
		}
		if len(objs) != 4 {
			t.Errorf("%s: %d objects, want 2 Teams, a TenantClass and the policy", cluster, len(objs))
		}
	}
}
