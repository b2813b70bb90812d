// Package webhook holds selfserve's admission webhooks: only the rules that need the requester
// or other objects; everything a schema can state is in the CRDs.
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

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-tenantclass,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=tenantclasses,verbs=create;update,versions=v1alpha1,name=vtenantclass.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantclasses,verbs=get;list;watch

// TenantClassValidator keeps the cluster at one default TenantClass at most: with two, the
// class of a TenantNamespace that names none would depend on list order.
type TenantClassValidator struct {
	// Reader lists the existing classes (the manager's cache).
	Reader client.Reader
}

// SetupTenantClassWebhook registers the TenantClass validating webhook with the manager.
func SetupTenantClassWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.TenantClass{}).
		WithValidator(&TenantClassValidator{Reader: mgr.GetClient()}).
		Complete()
}

// ValidateCreate rejects a second default class.
func (v *TenantClassValidator) ValidateCreate(ctx context.Context, tc *platformv1alpha1.TenantClass) (admission.Warnings, error) {
	return nil, v.validateSingleDefault(ctx, tc)
}

// ValidateUpdate rejects making a class the default while another one is.
func (v *TenantClassValidator) ValidateUpdate(ctx context.Context, _, tc *platformv1alpha1.TenantClass) (admission.Warnings, error) {
	return nil, v.validateSingleDefault(ctx, tc)
}

// ValidateDelete allows every deletion; tenants of a deleted class report it in a condition.
func (v *TenantClassValidator) ValidateDelete(context.Context, *platformv1alpha1.TenantClass) (admission.Warnings, error) {
	return nil, nil
}

func (v *TenantClassValidator) validateSingleDefault(ctx context.Context, tc *platformv1alpha1.TenantClass) error {
	if !tc.Spec.IsDefault {
		return nil
	}
	var classes platformv1alpha1.TenantClassList
	if err := v.Reader.List(ctx, &classes); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("listing TenantClasses: %w", err))
	}
	for _, other := range classes.Items {
		if other.Name != tc.Name && other.Spec.IsDefault {
			return apierrors.NewInvalid(platformv1alpha1.GroupVersion.WithKind("TenantClass").GroupKind(), tc.Name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "isDefault"), true,
					fmt.Sprintf("TenantClass %q is already the default; set isDefault: false on it first (one default class per cluster)", other.Name)),
			})
		}
	}
	return nil
}
