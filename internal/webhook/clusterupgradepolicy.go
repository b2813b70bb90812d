package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-clusterupgradepolicy,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=clusterupgradepolicies,verbs=create;update,versions=v1alpha1,name=vclusterupgradepolicy.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=clusterupgradepolicies,verbs=get;list;watch

// SetupClusterUpgradePolicyWebhook registers the validating webhook that refuses a second
// policy for the same GKE cluster: two policies would overwrite each other's maintenance policy
// on every sync.
func SetupClusterUpgradePolicyWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.ClusterUpgradePolicy{}).
		WithValidator(&unique[*platformv1alpha1.ClusterUpgradePolicy]{
			reader: mgr.GetClient(),
			gk:     platformv1alpha1.GroupVersion.WithKind("ClusterUpgradePolicy").GroupKind(),
			list: func(ctx context.Context, r client.Reader) ([]*platformv1alpha1.ClusterUpgradePolicy, error) {
				var l platformv1alpha1.ClusterUpgradePolicyList
				err := r.List(ctx, &l)
				return pointers(l.Items), err
			},
			key: func(p *platformv1alpha1.ClusterUpgradePolicy) (string, bool) {
				if p.Spec.Provider == nil || p.Spec.Provider.GKE == nil {
					return "", false
				}
				g := p.Spec.Provider.GKE
				return fmt.Sprintf("projects/%s/locations/%s/clusters/%s", g.Project, g.Location, g.Cluster), true
			},
			conflict: func(p, other *platformv1alpha1.ClusterUpgradePolicy) *field.Error {
				g := p.Spec.Provider.GKE
				return field.Duplicate(field.NewPath("spec", "provider", "gke"),
					fmt.Sprintf("projects/%s/locations/%s/clusters/%s is already governed by ClusterUpgradePolicy %s; one policy per cluster", g.Project, g.Location, g.Cluster, other.Name))
			},
		}).
		Complete()
}
