package tenancy

import (
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// CheckNamespaceMeta refuses extra namespace labels and annotations the apiserver would refuse
// on the Namespace (key syntax, value syntax and length, total annotation size), with the
// apiserver's own validators, so that a tenant never waits on a namespace that cannot be made.
func CheckNamespaceMeta(t *platformv1alpha1.TenantNamespace) field.ErrorList {
	spec := field.NewPath("spec")
	errs := metav1validation.ValidateLabels(t.Spec.Labels, spec.Child("labels"))
	return append(errs, apivalidation.ValidateAnnotations(t.Spec.Annotations, spec.Child("annotations"))...)
}
