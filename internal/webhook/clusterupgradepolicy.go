package webhook

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/gke"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-clusterupgradepolicy,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=clusterupgradepolicies,verbs=create;update,versions=v1alpha1,name=vclusterupgradepolicy.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=clusterupgradepolicies,verbs=get;list;watch

// SetupClusterUpgradePolicyWebhook registers the validating webhook of ClusterUpgradePolicy: it
// refuses a second policy for the same GKE cluster (two policies would overwrite each other's
// maintenance policy on every sync), and a policy whose GKE maintenance policy GKE would refuse
// (gke.Refusals), so that SREs hear it at kubectl apply rather than from a condition later.
func SetupClusterUpgradePolicyWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.ClusterUpgradePolicy{}).
		WithValidator(&upgradePolicyValidator{now: time.Now, unique: unique[*platformv1alpha1.ClusterUpgradePolicy]{
			reader: mgr.GetClient(),
			gk:     policyKind,
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
		}}).
		Complete()
}

var policyKind = platformv1alpha1.GroupVersion.WithKind("ClusterUpgradePolicy").GroupKind()

// upgradePolicyValidator adds GKE's limits to the one-policy-per-cluster rule.
type upgradePolicyValidator struct {
	unique[*platformv1alpha1.ClusterUpgradePolicy]
	now func() time.Time
}

// ValidateCreate refuses a cluster another policy governs, and what GKE would refuse.
func (v *upgradePolicyValidator) ValidateCreate(ctx context.Context, p *platformv1alpha1.ClusterUpgradePolicy) (admission.Warnings, error) {
	if err := v.check(ctx, p); err != nil {
		return nil, err
	}
	return nil, v.refusals(p)
}

// ValidateUpdate does the same for a changed spec. GKE's limits depend on the time (which
// exclusions have ended, which 32 days come next), so a spec that has not changed is not
// checked again: adding a label or removing a finalizer never fails because time passed.
func (v *upgradePolicyValidator) ValidateUpdate(ctx context.Context, old, p *platformv1alpha1.ClusterUpgradePolicy) (admission.Warnings, error) {
	if err := v.check(ctx, p); err != nil {
		return nil, err
	}
	if equality.Semantic.DeepEqual(old.Spec, p.Spec) {
		return nil, nil
	}
	return nil, v.refusals(p)
}

func (v *upgradePolicyValidator) refusals(p *platformv1alpha1.ClusterUpgradePolicy) error {
	if errs := gke.Refusals(p.Spec, v.now()); len(errs) > 0 {
		return apierrors.NewInvalid(policyKind, p.Name, errs)
	}
	return nil
}
