package webhook

import (
	"context"
	"fmt"
	"sort"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-tenantclass,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=tenantclasses,verbs=create;update,versions=v1alpha1,name=vtenantclass.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantclasses,verbs=get;list;watch

// SetupTenantClassWebhook registers the TenantClass validating webhook, which keeps the cluster
// at one default class at most: with two, the class of a TenantNamespace that names none would
// depend on list order.
//
// It also warns (without refusing: the grant may follow) when the class allows a ClusterRole the
// operator itself may not bind, since tenants asking for it could not be made Ready.
func SetupTenantClassWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.TenantClass{}).
		WithValidator(&tenantClassValidator{client: mgr.GetClient(), unique: &unique[*platformv1alpha1.TenantClass]{
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
		}}).
		Complete()
}

// tenantClassValidator is the one-default rule plus warnings about roles the operator cannot bind.
type tenantClassValidator struct {
	*unique[*platformv1alpha1.TenantClass]
	// client asks the apiserver what the operator itself may do (SelfSubjectAccessReview, which
	// every authenticated identity may create).
	client client.Client
}

// ValidateCreate refuses a second default class or a self-contradictory one, and warns about
// unbindable roles.
func (v *tenantClassValidator) ValidateCreate(ctx context.Context, tc *platformv1alpha1.TenantClass) (admission.Warnings, error) {
	if _, err := v.unique.ValidateCreate(ctx, tc); err != nil {
		return nil, err
	}
	if err := v.validateDefaults(ctx, tc); err != nil {
		return nil, err
	}
	return v.bindWarnings(ctx, tc), nil
}

// ValidateUpdate refuses taking the default from another class or a self-contradictory class,
// and warns about unbindable roles.
func (v *tenantClassValidator) ValidateUpdate(ctx context.Context, old, tc *platformv1alpha1.TenantClass) (admission.Warnings, error) {
	if _, err := v.unique.ValidateUpdate(ctx, old, tc); err != nil {
		return nil, err
	}
	// Checked again only when they change: an annotation or a GitOps re-apply costs no dry run.
	if !equality.Semantic.DeepEqual(old.Spec.Quota, tc.Spec.Quota) || !equality.Semantic.DeepEqual(old.Spec.Limits, tc.Spec.Limits) {
		if err := v.validateDefaults(ctx, tc); err != nil {
			return nil, err
		}
	}
	return v.bindWarnings(ctx, tc), nil
}

// validateDefaults refuses a class whose defaults every tenant would inherit and fail with: a
// default quota above its own maximum, and quotas or container limits the apiserver would
// refuse in a ResourceQuota or LimitRange (checked by a server-side dry run).
func (v *tenantClassValidator) validateDefaults(ctx context.Context, tc *platformv1alpha1.TenantClass) error {
	quota := field.NewPath("spec", "quota")
	var errs field.ErrorList
	for name, def := range tc.Spec.Quota.Default {
		if max, capped := tc.Spec.Quota.Max[name]; capped && def.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(quota.Child("default").Key(string(name)), def.String(),
				fmt.Sprintf("is above the class's own maximum %s (spec.quota.max); every tenant that names no %s would be above the class", max.String(), name)))
		}
	}
	dry := dryRun{client: v.client}
	for _, check := range []func() (field.ErrorList, error){
		func() (field.ErrorList, error) { return dry.quota(ctx, tc.Spec.Quota.Default, quota.Child("default")) },
		func() (field.ErrorList, error) { return dry.quota(ctx, tc.Spec.Quota.Max, quota.Child("max")) },
		func() (field.ErrorList, error) {
			return dry.limits(ctx, tc.Spec.Limits, field.NewPath("spec", "limits"))
		},
	} {
		found, err := check()
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		errs = append(errs, found...)
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return apierrors.NewInvalid(platformv1alpha1.GroupVersion.WithKind("TenantClass").GroupKind(), tc.Name, errs)
}

// bindWarnings names each allowed ClusterRole the operator may not bind. A review that fails
// gives no warning: a warning is advice, and admission must not depend on it.
func (v *tenantClassValidator) bindWarnings(ctx context.Context, tc *platformv1alpha1.TenantClass) admission.Warnings {
	var warnings admission.Warnings
	for _, role := range tc.Spec.AllowedClusterRoles {
		if may, err := operatorMayBind(ctx, v.client, role); err != nil || may {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("spec.allowedClusterRoles: the operator may not bind ClusterRole %q, so tenants asking for it will not be Ready; "+
			"grant it (Helm value bindableClusterRoles, or bind in the selfserve-manager-role ClusterRole)", role))
	}
	return warnings
}

// operatorMayBind asks the apiserver whether the operator itself may bind a ClusterRole (a
// SelfSubjectAccessReview, which every authenticated identity may create): RBAC refuses a
// binding to a role whose rights the binder neither holds nor may bind.
func operatorMayBind(ctx context.Context, c client.Client, role string) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: rbacv1.GroupName, Resource: "clusterroles", Verb: "bind", Name: role,
		},
	}}
	if err := c.Create(ctx, review); err != nil {
		return false, err
	}
	return review.Status.Allowed, nil
}

// pointers returns pointers to a list's items.
func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
