package tenantnamespace

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// IsolationPolicyName is the tenant's ingress isolation NetworkPolicy.
const IsolationPolicyName = "selfserve-isolation"

// reconcileNetwork keeps the ingress isolation NetworkPolicy of the mode in effect: Team admits
// traffic from namespaces of the same team, Namespace only from the namespace itself, None adds
// no policy. Egress is not restricted, so DNS stays reachable. It sets NetworkReady.
func (r *Reconciler) reconcileNetwork(ctx context.Context, s *scope) (ctrl.Result, error) {
	var cur networkingv1.NetworkPolicy
	exists, err := r.getChild(ctx, s, IsolationPolicyName, &cur)
	if err != nil {
		return ctrl.Result{}, err
	}
	var from *networkingv1ac.NetworkPolicyPeerApplyConfiguration
	switch s.NetworkIsolation {
	case platformv1alpha1.NetworkIsolationTeam:
		from = networkingv1ac.NetworkPolicyPeer().WithNamespaceSelector(
			metav1ac.LabelSelector().WithMatchLabels(map[string]string{platformv1alpha1.LabelTeam: s.tenant.Spec.Team}))
	case platformv1alpha1.NetworkIsolationNamespace:
		from = networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector())
	default:
		return ctrl.Result{}, r.notRequested(ctx, s, exists, &cur, platformv1alpha1.ConditionNetworkReady, "network isolation is None")
	}
	desired := networkingv1ac.NetworkPolicy(IsolationPolicyName, s.tenant.Name).
		WithLabels(childLabels(s.tenant)).
		WithOwnerReferences(ownerReference(s.tenant)).
		WithSpec(networkingv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector()).
			WithPolicyTypes(networkingv1.PolicyTypeIngress).
			WithIngress(networkingv1ac.NetworkPolicyIngressRule().WithFrom(from)))
	_, err = applyChild(ctx, r, s, "NetworkPolicy", IsolationPolicyName, &cur, exists, desired)
	if err != nil {
		s.setCondition(platformv1alpha1.ConditionNetworkReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
		return ctrl.Result{}, fmt.Errorf("applying NetworkPolicy: %w", err)
	}
	s.setCondition(platformv1alpha1.ConditionNetworkReady, metav1.ConditionTrue, ReasonProvisioned,
		fmt.Sprintf("ingress isolated to the %s", map[platformv1alpha1.NetworkIsolation]string{
			platformv1alpha1.NetworkIsolationTeam: "team's namespaces", platformv1alpha1.NetworkIsolationNamespace: "namespace itself"}[s.NetworkIsolation]))
	return ctrl.Result{}, nil
}
