package webhook

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-serviceslo,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=serviceslos,verbs=create;update,versions=v1alpha1,name=vserviceslo.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5

// SetupServiceSLOWebhook registers the ServiceSLO validating webhook: the queries Datadog would
// refuse (datadog.Refusals) are refused at kubectl apply, with their field, rather than
// reported later in the Synced condition.
func SetupServiceSLOWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.ServiceSLO{}).
		WithValidator(serviceSLOValidator{}).
		Complete()
}

type serviceSLOValidator struct{}

// ValidateCreate refuses queries Datadog would refuse.
func (serviceSLOValidator) ValidateCreate(_ context.Context, slo *platformv1alpha1.ServiceSLO) (admission.Warnings, error) {
	return nil, sloRefusals(slo)
}

// ValidateUpdate refuses them in a changed spec; an unchanged one (a label, a finalizer
// removed) always passes, so an object stored before a rule can still be deleted.
func (serviceSLOValidator) ValidateUpdate(_ context.Context, old, slo *platformv1alpha1.ServiceSLO) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, slo.Spec) {
		return nil, nil
	}
	return nil, sloRefusals(slo)
}

// ValidateDelete allows every deletion.
func (serviceSLOValidator) ValidateDelete(context.Context, *platformv1alpha1.ServiceSLO) (admission.Warnings, error) {
	return nil, nil
}

func sloRefusals(slo *platformv1alpha1.ServiceSLO) error {
	if errs := datadog.Refusals(slo.Spec); len(errs) > 0 {
		return apierrors.NewInvalid(platformv1alpha1.GroupVersion.WithKind("ServiceSLO").GroupKind(), slo.Name, errs)
	}
	return nil
}
