// Package webhook holds selfserve's admission webhooks: only the rules that need the requester
// or other objects; everything a schema can state is in the CRDs.
package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-tenantclass,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=tenantclasses,verbs=create;update,versions=v1alpha1,name=vtenantclass.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantclasses,verbs=get;list;watch

// SetupTenantClassWebhook registers the TenantClass validating webhook, which keeps the cluster
// at one default class at most: with two, the class of a TenantNamespace that names none would
// depend on list order.
func SetupTenantClassWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.TenantClass{}).
		WithValidator(&unique[*platformv1alpha1.TenantClass]{
			reader: mgr.GetClient(),
			gk:     platformv1alpha1.GroupVersion.WithKind("TenantClass").GroupKind(),
			list: func(ctx context.Context, r client.Reader) ([]*platformv1alpha1.TenantClass, error) {
				var l platformv1alpha1.TenantClassList
				err := r.List(ctx, &l)
				return pointers(l.Items), err
			},
			key: func(tc *platformv1alpha1.TenantClass) (string, bool) { return "default", tc.Spec.IsDefault },
			conflict: func(_, other *platformv1alpha1.TenantClass) *field.Error {
				return field.Invalid(field.NewPath("spec", "isDefault"), true,
					fmt.Sprintf("TenantClass %q is already the default; set isDefault: false on it first (one default class per cluster)", other.Name))
			},
		}).
		Complete()
}

// pointers returns pointers to a list's items.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
