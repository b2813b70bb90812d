package tenantclass

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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
// that holds what runs in a tenant namespace to its class's spec.workloads; NodePoolPolicy is
// the MutatingAdmissionPolicy that pins its pods to the class's node pool.
const (
	WorkloadPolicy = "selfserve-tenant-workloads"
	NodePoolPolicy = "selfserve-tenant-node-pool"
)

// policyFieldOwner is the field manager of the class's policy bindings.
const policyFieldOwner = "selfserve-tenantclass"

// WorkloadBindingName is the name of the class's binding of WorkloadPolicy, NodePoolBindingName
// of NodePoolPolicy.
func WorkloadBindingName(class string) string { return WorkloadPolicy + "-" + class }

func NodePoolBindingName(class string) string { return NodePoolPolicy + "-" + class }

// PolicyReconciler keeps one binding of WorkloadPolicy and one of NodePoolPolicy per
// TenantClass: the class is their parameter, and they select the namespaces labelled with the
// class. kube-apiserver then enforces the class's workload rules itself, also while the
// operator is down. A class that is deleted keeps its bindings while namespaces still carry its
// label: with no parameter they deny (fail closed) until the tenants move to another class.
type PolicyReconciler struct {
	// Client reads through the manager's cache (bindings: the operator's own only).
	Client client.Client
	// NodePools says the apiserver serves MutatingAdmissionPolicy (Kubernetes 1.36 and later):
	// without it there is no node pool binding, and pods of a class with a node pool must carry
	// the pool's labels themselves (the workload policy still refuses the others).
	NodePools bool
}

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicybindings;mutatingadmissionpolicybindings,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers the controller: a class's spec, and any change of its bindings
// (drift is repaired), bring the class back.
func (r *PolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("tenantclass-policy").
		For(&platformv1alpha1.TenantClass{}).
		Watches(&admissionregistrationv1.ValidatingAdmissionPolicyBinding{}, handler.EnqueueRequestsFromMapFunc(classOfBinding))
	if r.NodePools {
		b = b.Watches(&admissionregistrationv1.MutatingAdmissionPolicyBinding{}, handler.EnqueueRequestsFromMapFunc(classOfBinding))
	}
	return b.Complete(r)
}

// classOfBinding maps one of the operator's bindings to its class.
func classOfBinding(_ context.Context, o client.Object) []reconcile.Request {
	if class := o.GetLabels()[platformv1alpha1.LabelClass]; class != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: class}}}
	}
	return nil
}

// binding is one of a class's policy bindings: how to read it, whether the stored one is what
// the operator applies, and what it applies.
type binding struct {
	obj     client.Object
	current func(class string) bool
	apply   func(class string) runtime.ApplyConfiguration
}

func (r *PolicyReconciler) bindings(class string) []binding {
	var vb admissionregistrationv1.ValidatingAdmissionPolicyBinding
	var mb admissionregistrationv1.MutatingAdmissionPolicyBinding
	vb.Name, mb.Name = WorkloadBindingName(class), NodePoolBindingName(class)
	out := []binding{
		{obj: &vb, current: func(c string) bool { return bindingCurrent(&vb, c) }, apply: func(c string) runtime.ApplyConfiguration { return workloadBinding(c) }},
	}
	if r.NodePools {
		out = append(out, binding{obj: &mb, current: func(c string) bool { return nodePoolBindingCurrent(&mb, c) }, apply: func(c string) runtime.ApplyConfiguration { return nodePoolBinding(c) }})
	}
	return out
}

// Reconcile applies the class's bindings that are missing or differ, and removes the bindings
// of a class that is gone once no namespace is labelled with it.
func (r *PolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var class platformv1alpha1.TenantClass
	err := r.Client.Get(ctx, req.NamespacedName, &class)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	gone := err != nil
	for _, b := range r.bindings(req.Name) {
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(b.obj), b.obj)
		if err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		exists := err == nil
		switch {
		case gone:
			if !exists {
				continue
			}
			if err := r.removeUnused(ctx, req.Name, b.obj); err != nil {
				return ctrl.Result{}, err
			}
		case !exists || !b.current(req.Name):
			if err := r.Client.Apply(ctx, b.apply(req.Name), client.FieldOwner(policyFieldOwner), client.ForceOwnership); err != nil {
				return ctrl.Result{}, fmt.Errorf("applying %s: %w", b.obj.GetName(), err)
			}
		}
	}
	return ctrl.Result{}, nil
}

// removeUnused deletes a binding of a class that no longer exists, unless namespaces still
// carry its label: they stay denied rather than unguarded.
func (r *PolicyReconciler) removeUnused(ctx context.Context, class string, b client.Object) error {
	var namespaces corev1.NamespaceList
	if err := r.Client.List(ctx, &namespaces, client.MatchingLabels{platformv1alpha1.LabelClass: class}, client.Limit(1)); err != nil {
		return err
	}
	if len(namespaces.Items) > 0 {
		return nil
	}
	uid := b.GetUID()
	return client.IgnoreNotFound(r.Client.Delete(ctx, b, client.Preconditions{UID: &uid}))
}

// bindingLabels mark a class's bindings as the operator's, and name the class.
func bindingLabels(class string) map[string]string {
	return map[string]string{platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue, platformv1alpha1.LabelClass: class}
}

// classNamespaces selects the namespaces of the class.
func classNamespaces(class string) map[string]string {
	return map[string]string{platformv1alpha1.LabelClass: class}
}

// workloadBinding is the class's binding of WorkloadPolicy as the operator applies it.
func workloadBinding(class string) *admissionv1ac.ValidatingAdmissionPolicyBindingApplyConfiguration {
	return admissionv1ac.ValidatingAdmissionPolicyBinding(WorkloadBindingName(class)).
		WithLabels(bindingLabels(class)).
		WithSpec(admissionv1ac.ValidatingAdmissionPolicyBindingSpec().
			WithPolicyName(WorkloadPolicy).
			WithParamRef(admissionv1ac.ParamRef().WithName(class).WithParameterNotFoundAction(admissionregistrationv1.DenyAction)).
			WithMatchResources(admissionv1ac.MatchResources().WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(classNamespaces(class)))).
			WithValidationActions(admissionregistrationv1.Deny))
}

// nodePoolBinding is the class's binding of NodePoolPolicy as the operator applies it.
func nodePoolBinding(class string) *admissionv1ac.MutatingAdmissionPolicyBindingApplyConfiguration {
	return admissionv1ac.MutatingAdmissionPolicyBinding(NodePoolBindingName(class)).
		WithLabels(bindingLabels(class)).
		WithSpec(admissionv1ac.MutatingAdmissionPolicyBindingSpec().
			WithPolicyName(NodePoolPolicy).
			WithParamRef(admissionv1ac.ParamRef().WithName(class).WithParameterNotFoundAction(admissionregistrationv1.DenyAction)).
			WithMatchResources(admissionv1ac.MatchResources().WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(classNamespaces(class)))))
}

// bindingCurrent reports whether the stored workload binding is what workloadBinding applies.
func bindingCurrent(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, class string) bool {
	return labelsCurrent(b, class) && b.Spec.PolicyName == WorkloadPolicy &&
		paramCurrent(b.Spec.ParamRef, class) && matchCurrent(b.Spec.MatchResources, class) &&
		equality.Semantic.DeepEqual(b.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny})
}

// nodePoolBindingCurrent reports whether the stored node pool binding is what nodePoolBinding
// applies.
func nodePoolBindingCurrent(b *admissionregistrationv1.MutatingAdmissionPolicyBinding, class string) bool {
	return labelsCurrent(b, class) && b.Spec.PolicyName == NodePoolPolicy &&
		paramCurrent(b.Spec.ParamRef, class) && matchCurrent(b.Spec.MatchResources, class)
}

func labelsCurrent(b client.Object, class string) bool {
	return b.GetLabels()[platformv1alpha1.LabelManagedBy] == platformv1alpha1.ManagedByValue && b.GetLabels()[platformv1alpha1.LabelClass] == class
}

func paramCurrent(p *admissionregistrationv1.ParamRef, class string) bool {
	return p != nil && p.Name == class && p.Namespace == "" && p.Selector == nil &&
		ptr.Deref(p.ParameterNotFoundAction, "") == admissionregistrationv1.DenyAction
}

func matchCurrent(m *admissionregistrationv1.MatchResources, class string) bool {
	return m != nil && m.ObjectSelector.Size() == 0 && len(m.ResourceRules) == 0 && len(m.ExcludeResourceRules) == 0 &&
		equality.Semantic.DeepEqual(m.NamespaceSelector, &metav1.LabelSelector{MatchLabels: classNamespaces(class)})
}
