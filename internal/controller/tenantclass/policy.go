package tenantclass

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	admissionv1ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// WorkloadPolicy is the ValidatingAdmissionPolicy (config/policy, named as installs name it)
// that holds what runs in a tenant namespace to its class's spec.workloads.
const WorkloadPolicy = "selfserve-tenant-workloads"

// policyFieldOwner is the field manager of the class's policy binding.
const policyFieldOwner = "selfserve-tenantclass"

// WorkloadBindingName is the name of the class's binding of WorkloadPolicy.
func WorkloadBindingName(class string) string { return WorkloadPolicy + "-" + class }

// PolicyReconciler keeps one binding of WorkloadPolicy per TenantClass: the class is its
// parameter, and it selects the namespaces labelled with the class. kube-apiserver then
// enforces the class's workload rules itself, also while the operator is down. A class that is
// deleted keeps its binding while namespaces still carry its label: with no parameter the
// binding denies (fail closed) until they move to another class.
type PolicyReconciler struct {
	// Client reads through the manager's cache (bindings: the operator's own only).
	Client client.Client
}

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicybindings,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers the controller: a class's spec, and any change of its binding
// (drift is repaired), bring the class back.
func (r *PolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("tenantclass-policy").
		For(&platformv1alpha1.TenantClass{}).
		Watches(&admissionregistrationv1.ValidatingAdmissionPolicyBinding{}, handler.EnqueueRequestsFromMapFunc(classOfBinding)).
		Complete(r)
}

// classOfBinding maps one of the operator's bindings to its class.
func classOfBinding(_ context.Context, o client.Object) []reconcile.Request {
	if class := o.GetLabels()[platformv1alpha1.LabelClass]; class != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: class}}}
	}
	return nil
}

// Reconcile applies the class's binding when it is missing or differs, and removes the binding
// of a class that is gone once no namespace is labelled with it.
func (r *PolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	name := WorkloadBindingName(req.Name)
	var cur admissionregistrationv1.ValidatingAdmissionPolicyBinding
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, &cur)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	exists := err == nil
	var class platformv1alpha1.TenantClass
	if err := r.Client.Get(ctx, req.NamespacedName, &class); apierrors.IsNotFound(err) {
		if !exists {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, r.removeUnused(ctx, req.Name, &cur)
	} else if err != nil {
		return ctrl.Result{}, err
	}
	want := workloadBinding(req.Name)
	if exists && bindingCurrent(&cur, req.Name) {
		return ctrl.Result{}, nil
	}
	if err := r.Client.Apply(ctx, want, client.FieldOwner(policyFieldOwner), client.ForceOwnership); err != nil {
		return ctrl.Result{}, fmt.Errorf("applying ValidatingAdmissionPolicyBinding %s: %w", name, err)
	}
	return ctrl.Result{}, nil
}

// removeUnused deletes the binding of a class that no longer exists, unless namespaces still
// carry its label: they stay denied rather than unguarded.
func (r *PolicyReconciler) removeUnused(ctx context.Context, class string, b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) error {
	var namespaces corev1.NamespaceList
	if err := r.Client.List(ctx, &namespaces, client.MatchingLabels{platformv1alpha1.LabelClass: class}, client.Limit(1)); err != nil {
		return err
	}
	if len(namespaces.Items) > 0 {
		return nil
	}
	return client.IgnoreNotFound(r.Client.Delete(ctx, b, client.Preconditions{UID: &b.UID}))
}

// workloadBinding is the class's binding as the operator applies it.
func workloadBinding(class string) *admissionv1ac.ValidatingAdmissionPolicyBindingApplyConfiguration {
	return admissionv1ac.ValidatingAdmissionPolicyBinding(WorkloadBindingName(class)).
		WithLabels(map[string]string{platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue, platformv1alpha1.LabelClass: class}).
		WithSpec(admissionv1ac.ValidatingAdmissionPolicyBindingSpec().
			WithPolicyName(WorkloadPolicy).
			WithParamRef(admissionv1ac.ParamRef().WithName(class).WithParameterNotFoundAction(admissionregistrationv1.DenyAction)).
			WithMatchResources(admissionv1ac.MatchResources().
				WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{platformv1alpha1.LabelClass: class}))).
			WithValidationActions(admissionregistrationv1.Deny))
}

// bindingCurrent reports whether the stored binding is what workloadBinding applies.
func bindingCurrent(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, class string) bool {
	s := b.Spec
	return b.Labels[platformv1alpha1.LabelManagedBy] == platformv1alpha1.ManagedByValue && b.Labels[platformv1alpha1.LabelClass] == class &&
		s.PolicyName == WorkloadPolicy &&
		s.ParamRef != nil && s.ParamRef.Name == class && s.ParamRef.Namespace == "" && s.ParamRef.Selector == nil &&
		ptr.Deref(s.ParamRef.ParameterNotFoundAction, "") == admissionregistrationv1.DenyAction &&
		s.MatchResources != nil && s.MatchResources.ObjectSelector.Size() == 0 && len(s.MatchResources.ResourceRules) == 0 && len(s.MatchResources.ExcludeResourceRules) == 0 &&
		equality.Semantic.DeepEqual(s.MatchResources.NamespaceSelector, &metav1.LabelSelector{MatchLabels: map[string]string{platformv1alpha1.LabelClass: class}}) &&
		equality.Semantic.DeepEqual(s.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny})
}
