package team

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/conditions"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Reasons of a team's Ready condition.
const (
	// ReasonAccepted: the team is in effect; its tenants are within its budget.
	ReasonAccepted = "Accepted"
	// ReasonOverBudget: the team holds more than its budget since the budget was lowered. It
	// keeps what it has; new tenants wait. This does not make the team unready.
	ReasonOverBudget = tenancy.ReasonOverBudget
	// ReasonMembersIgnored: some members act for nothing (the cluster's own identities,
	// ServiceAccounts of protected namespaces or of another team's namespace), admitted before
	// the rules that refuse them. The others act for the team. This does not make it unready.
	ReasonMembersIgnored = "MembersIgnored"
)

// summarize sets a team's status from what its provisioned tenants hold, how many wait, and
// which of its members act for nothing (ignored, one line each).
func summarize(team *platformv1alpha1.Team, held tenancy.Held, waiting int, ignored []string) {
	team.Status.Members = memberList(team.Spec.Members)
	team.Status.Namespaces = int32(len(held.Tenants))
	team.Status.Waiting = int32(waiting)
	team.Status.Quota = held.Quota
	team.Status.BudgetLeft = tenancy.Left(team, held)

	o := conditions.Outcome{Ready: true, Reason: ReasonAccepted, Message: fmt.Sprintf("tenant namespaces held: %d", len(held.Tenants))}
	if waiting > 0 {
		o.Message += fmt.Sprintf("; waiting for budget (OverBudget): %d", waiting)
	}
	if len(ignored) > 0 {
		o.Reason = ReasonMembersIgnored
		o.Message += "; members that act for nothing: " + strings.Join(ignored, "; ")
	}
	if over := tenancy.Exceeded(team, held); len(over) > 0 {
		o.Reason = ReasonOverBudget
		o.Message += fmt.Sprintf("; above its budget since it was lowered: %s (they keep what they have; new tenants wait)", strings.Join(over, "; "))
	}
	if conditions.Summarize(&team.Status.Conditions, team.Generation, o) {
		team.Status.ObservedGeneration = team.Generation
	}
}

// memberList is the members in one line: users and groups by name, service accounts as
// namespace/name.
func memberList(members []platformv1alpha1.Subject) string {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.Name
		if m.Kind == "ServiceAccount" {
			names[i] = m.Namespace + "/" + m.Name
		}
	}
	return strings.Join(names, ",")
}

// isWaiting reports whether a tenant waits for a place in its team's budget.
func isWaiting(t *platformv1alpha1.TenantNamespace) bool {
	c := meta.FindStatusCondition(t.Status.Conditions, platformv1alpha1.ConditionReady)
	return c != nil && c.Reason == tenancy.ReasonOverBudget
}
