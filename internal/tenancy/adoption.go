package tenancy

import (
	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// LabelReleased marks a namespace whose TenantNamespace was deleted with deletionPolicy
// Retain: the data stays, the operator no longer manages it, and a TenantNamespace of the same
// name and team may adopt it again.
const LabelReleased = "platform.selfserve.dev/released"

// Finalizer is the operator's finalizer on a TenantNamespace: it holds a tenant with
// deletionPolicy Delete until its namespace is deleted (and one of an older version, or switched
// to Retain, until its namespace is released). Only the operator and platform admins may remove
// it.
const Finalizer = "platform.selfserve.dev/tenant-namespace"

// LabelTeamUID on a released namespace names the UID of the Team that released it (NoTeam when
// it had none by then): only that very Team, not one re-created under its name, takes it back.
const LabelTeamUID = "platform.selfserve.dev/team-uid"

// NoTeam is LabelTeamUID of a namespace released while its Team did not exist.
const NoTeam = "none"

// Adoptable reports whether an existing namespace may become this tenant's: it already is (same
// name and team: a tenant of another team re-created under the name of a deleted one must not
// take its namespace before the operator has released it), or it was released by a tenant of
// the same name and team — the same Team, by UID, when the release recorded one. Since a
// tenant's team is one its requester belongs to, only members of the team that released a
// namespace can take it back.
func Adoptable(ns *corev1.Namespace, t *platformv1alpha1.TenantNamespace, team *platformv1alpha1.Team) bool {
	if ns.Labels[platformv1alpha1.LabelTeam] != t.Spec.Team {
		return false
	}
	if ns.Labels[platformv1alpha1.LabelTenant] == t.Name && ns.Labels[platformv1alpha1.LabelManagedBy] == platformv1alpha1.ManagedByValue {
		return true
	}
	if ns.Labels[LabelReleased] != "true" {
		return false
	}
	uid, recorded := ns.Labels[LabelTeamUID]
	return !recorded || team != nil && uid == string(team.UID)
}

// Holds reports whether the namespace is provisioned for the tenant (its label names it), so
// that the tenant holds a place in its team's budget.
func Holds(ns *corev1.Namespace, t *platformv1alpha1.TenantNamespace) bool {
	return ns.DeletionTimestamp.IsZero() && ns.Labels[platformv1alpha1.LabelTenant] == t.Name && ns.Labels[LabelReleased] != "true"
}
