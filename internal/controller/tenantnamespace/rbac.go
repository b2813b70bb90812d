package tenantnamespace

import (
	"context"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// OwnersRoleBinding binds the tenant's owners to the admin ClusterRole.
const OwnersRoleBinding = tenancy.OwnersRoleBinding

// reconcileRBAC keeps one RoleBinding for the owners (ClusterRole admin) and one per extra
// ClusterRole the spec binds, and removes bindings the spec no longer asks for. It sets
// RBACReady.
func (r *Reconciler) reconcileRBAC(ctx context.Context, s *scope) (ctrl.Result, error) {
	// Subjects no class may allow (admitted before the rule existed) are never bound.
	protected := r.protected()
	owners, dropped := tenancy.Bindable(s.tenant.Spec.Owners, protected)
	// Owners are the namespace's admins: one who is no longer a member of the Team (taken out
	// of it since) loses the binding.
	owners, notMembers := tenancy.MemberOwners(s.team, owners)
	desired := map[string]*rbacv1ac.RoleBindingApplyConfiguration{
		OwnersRoleBinding: roleBinding(s.tenant, OwnersRoleBinding, "admin", owners),
	}
	for _, b := range s.tenant.Spec.RoleBindings {
		if s.capped && !tenancy.BindingAllowed(s.class, b.ClusterRole) && !slices.Contains(s.holding.ClusterRoles, b.ClusterRole) {
			continue // waits for approval
		}
		name := "selfserve-" + b.ClusterRole
		if name == OwnersRoleBinding {
			continue // refused at admission: it would replace the owners' binding
		}
		subjects, more := tenancy.Bindable(b.Subjects, protected)
		dropped = append(dropped, more...)
		desired[name] = roleBinding(s.tenant, name, b.ClusterRole, subjects)
	}
	var existing rbacv1.RoleBindingList
	if err := r.Client.List(ctx, &existing, client.InNamespace(s.tenant.Name), client.MatchingLabels(childLabels(s.tenant))); err != nil {
		return ctrl.Result{}, err
	}
	byName := map[string]*rbacv1.RoleBinding{}
	for i := range existing.Items {
		byName[existing.Items[i].Name] = &existing.Items[i]
	}
	for name, want := range desired {
		cur, ok := byName[name]
		if !ok {
			cur = &rbacv1.RoleBinding{}
		}
		_, err := applyChild(ctx, r, s, "RoleBinding", name, cur, ok, want)
		if err != nil {
			s.setCondition(platformv1alpha1.ConditionRBACReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
			return ctrl.Result{}, fmt.Errorf("applying RoleBinding %s: %w", name, err)
		}
	}
	if err := deleteUnwanted(ctx, r, toObjects(existing.Items), desired); err != nil {
		s.setCondition(platformv1alpha1.ConditionRBACReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
		return ctrl.Result{}, err
	}
	msg := fmt.Sprintf("%d owners bound to admin, %d extra role bindings", len(owners), len(s.tenant.Spec.RoleBindings))
	if len(dropped) > 0 {
		msg += fmt.Sprintf("; not bound, as no class may allow them: %s", strings.Join(dropped, ", "))
	}
	if len(notMembers) > 0 {
		msg += fmt.Sprintf("; owners not bound, as they are not members of Team %s: %s", s.team.Name, strings.Join(notMembers, ", "))
	}
	s.setCondition(platformv1alpha1.ConditionRBACReady, metav1.ConditionTrue, ReasonProvisioned, msg)
	return ctrl.Result{}, nil
}

func roleBinding(t *platformv1alpha1.TenantNamespace, name, clusterRole string, subjects []platformv1alpha1.Subject) *rbacv1ac.RoleBindingApplyConfiguration {
	rb := rbacv1ac.RoleBinding(name, t.Name).
		WithLabels(childLabels(t)).
		WithOwnerReferences(ownerReference(t)).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(clusterRole))
	for _, sub := range subjects {
		// The apiGroup is spelt out as the apiserver would default it, so that what is read back
		// equals what was applied and an unchanged binding is never written again.
		as := rbacv1ac.Subject().WithKind(sub.Kind).WithName(sub.Name)
		if sub.Kind == rbacv1.ServiceAccountKind {
			as.WithAPIGroup("").WithNamespace(sub.Namespace)
		} else {
			as.WithAPIGroup(rbacv1.GroupName)
		}
		rb.WithSubjects(as)
	}
	return rb
}
