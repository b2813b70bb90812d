package webhook

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-clusterupgradepolicy,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=clusterupgradepolicies,verbs=create;update,versions=v1alpha1,name=vclusterupgradepolicy.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=clusterupgradepolicies,verbs=get;list;watch

// ClusterUpgradePolicyValidator refuses a second policy for the same GKE cluster: two policies
// would overwrite each other's maintenance policy on every sync.
type ClusterUpgradePolicyValidator struct {
	Reader client.Reader
}

// SetupClusterUpgradePolicyWebhook registers the validating webhook.
func SetupClusterUpgradePolicyWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.ClusterUpgradePolicy{}).
		WithValidator(&ClusterUpgradePolicyValidator{Reader: mgr.GetClient()}).
		Complete()
}

// ValidateCreate refuses a policy whose GKE cluster another policy already targets.
func (v *ClusterUpgradePolicyValidator) ValidateCreate(ctx context.Context, p *platformv1alpha1.ClusterUpgradePolicy) (admission.Warnings, error) {
	return nil, v.uniqueTarget(ctx, p)
}

// ValidateUpdate applies the same rule to a changed target.
func (v *ClusterUpgradePolicyValidator) ValidateUpdate(ctx context.Context, _, p *platformv1alpha1.ClusterUpgradePolicy) (admission.Warnings, error) {
	return nil, v.uniqueTarget(ctx, p)
}

// ValidateDelete allows every deletion.
func (v *ClusterUpgradePolicyValidator) ValidateDelete(context.Context, *platformv1alpha1.ClusterUpgradePolicy) (admission.Warnings, error) {
	return nil, nil
}

func (v *ClusterUpgradePolicyValidator) uniqueTarget(ctx context.Context, p *platformv1alpha1.ClusterUpgradePolicy) error {
	if p.Spec.Provider == nil || p.Spec.Provider.GKE == nil {
		return nil
	}
	var list platformv1alpha1.ClusterUpgradePolicyList
	if err := v.Reader.List(ctx, &list); err != nil {
		return apierrors.NewInternalError(err)
	}
	g := *p.Spec.Provider.GKE
	for _, o := range list.Items {
		if o.Name != p.Name && o.Spec.Provider != nil && o.Spec.Provider.GKE != nil && *o.Spec.Provider.GKE == g {
			return apierrors.NewInvalid(platformv1alpha1.GroupVersion.WithKind("ClusterUpgradePolicy").GroupKind(), p.Name, field.ErrorList{
				field.Duplicate(field.NewPath("spec", "provider", "gke"), fmt.Sprintf("projects/%s/locations/%s/clusters/%s is already governed by ClusterUpgradePolicy %s; one policy per cluster", g.Project, g.Location, g.Cluster, o.Name)),
			})
		}
	}
	return nil
}
