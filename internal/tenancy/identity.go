package tenancy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Protected lists the namespaces, besides default and kube-*, that selfserve never manages and
// whose ServiceAccounts no team may count or bind as its own (the operator's own namespace
// among them).
type Protected []string

// Has reports whether the namespace is protected.
func (p Protected) Has(ns string) bool {
	return ns == "default" || strings.HasPrefix(ns, "kube-") || slices.Contains(p, ns)
}

// String lists the protected namespaces for messages.
func (p Protected) String() string {
	return strings.Join(append([]string{"default", "kube-*"}, p...), ", ")
}

// systemPrefix starts the user and group names Kubernetes reserves for its own identities.
const systemPrefix = "system:"

// saGroupPrefix starts the group of all ServiceAccounts of one namespace.
const saGroupPrefix = "system:serviceaccounts:"

// refusedMember says why a subject can never act for a team; empty when it may. A team is
// people and the workloads of namespaces the team holds: none of the cluster's own identities
// (every system: group, every system: user — a ServiceAccount is named with kind
// ServiceAccount, so that its namespace is checked) and no ServiceAccount of a protected
// namespace.
func refusedMember(s platformv1alpha1.Subject, p Protected) string {
	switch s.Kind {
	case "Group", "User":
		if strings.HasPrefix(s.Name, systemPrefix) {
			return fmt.Sprintf("%s %s is one of the cluster's own identities (the system: prefix is Kubernetes'); a Team's members are people's users and groups, and ServiceAccounts named with kind ServiceAccount", s.Kind, s.Name)
		}
	case "ServiceAccount":
		if p.Has(s.Namespace) {
			return fmt.Sprintf("ServiceAccount %s/%s lives in a protected namespace (%s); its workloads are the platform's, not a team's", s.Namespace, s.Name, p)
		}
	}
	return ""
}

// refusedSubject says why a subject can never be an owner or binding subject of a tenant,
// whatever its class: the cluster's administrators, nodes and controllers, and the
// ServiceAccounts of protected namespaces. Empty when it may (the identities that stand for
// everyone are the class's to allow, see checkSubjects).
func refusedSubject(s platformv1alpha1.Subject, p Protected) string {
	if _, ok := broad(s); ok {
		return ""
	}
	switch s.Kind {
	case "Group":
		if ns, ok := strings.CutPrefix(s.Name, saGroupPrefix); ok {
			if p.Has(ns) {
				return fmt.Sprintf("group %s is every ServiceAccount of protected namespace %s", s.Name, ns)
			}
			return ""
		}
		if strings.HasPrefix(s.Name, systemPrefix) {
			return fmt.Sprintf("group %s is one of the cluster's own identities; it cannot be bound in a tenant namespace", s.Name)
		}
	case "User":
		if strings.HasPrefix(s.Name, systemPrefix) {
			return fmt.Sprintf("user %s is one of the cluster's own identities; name a ServiceAccount with kind ServiceAccount", s.Name)
		}
	case "ServiceAccount":
		if p.Has(s.Namespace) {
			return fmt.Sprintf("ServiceAccount %s/%s lives in a protected namespace (%s)", s.Namespace, s.Name, p)
		}
	}
	return ""
}

// CheckMembers refuses the members of a Team that can never act for it (see refusedMember).
func CheckMembers(team *platformv1alpha1.Team, p Protected) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec", "members")
	for i, m := range team.Spec.Members {
		if why := refusedMember(m, p); why != "" {
			errs = append(errs, field.Forbidden(path.Index(i), why))
		}
	}
	return errs
}

// CheckSubjects refuses owners and binding subjects that no class may allow (see
// refusedSubject).
func CheckSubjects(t *platformv1alpha1.TenantNamespace, p Protected) field.ErrorList {
	return eachSubject(t, func(s platformv1alpha1.Subject) string { return refusedSubject(s, p) })
}

// Bindable keeps the subjects that may be bound in a tenant namespace, so that a spec admitted
// before a rule existed never binds what the rule refuses; dropped names what was left out.
func Bindable(subjects []platformv1alpha1.Subject, p Protected) (kept []platformv1alpha1.Subject, dropped []string) {
	for _, s := range subjects {
		if refusedSubject(s, p) != "" {
			dropped = append(dropped, s.Kind+" "+subjectName(s))
			continue
		}
		kept = append(kept, s)
	}
	return kept, dropped
}

func subjectName(s platformv1alpha1.Subject) string {
	if s.Kind == "ServiceAccount" {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

// ReasonClaimedByTeam says a tenant's name is a namespace another team's ServiceAccount members
// live in.
const ReasonClaimedByTeam = "ClaimedByTeam"

// ClaimingTeam is the Team, other than team, with a ServiceAccount member in namespace ns, and
// that member; empty when none. A ServiceAccount member binds its namespace to its Team: whoever
// holds the namespace could create that ServiceAccount and mint its tokens, and act for the
// Team through it.
func ClaimingTeam(teams []platformv1alpha1.Team, ns, team string) (claimant string, member string) {
	for _, tm := range teams {
		if tm.Name == team {
			continue
		}
		for _, m := range tm.Spec.Members {
			if m.Kind == "ServiceAccount" && m.Namespace == ns {
				return tm.Name, m.Namespace + "/" + m.Name
			}
		}
	}
	return "", ""
}

// CheckClaim refuses a tenant whose name is a namespace another Team's ServiceAccount members
// live in (ReasonClaimedByTeam), reading the Teams through r.
func CheckClaim(ctx context.Context, r client.Reader, t *platformv1alpha1.TenantNamespace) error {
	var teams platformv1alpha1.TeamList
	if err := r.List(ctx, &teams); err != nil {
		return fmt.Errorf("listing Teams: %w", err)
	}
	if claimant, member := ClaimingTeam(teams.Items, t.Name, t.Spec.Team); claimant != "" {
		return &Refusal{Reason: ReasonClaimedByTeam, Field: field.NewPath("metadata", "name"),
			Message: fmt.Sprintf("namespace %q holds ServiceAccount %s, a member of Team %s: only a tenant of team %s may take it", t.Name, member, claimant, claimant)}
	}
	return nil
}

// NamespaceTeam is the team a namespace belongs to: the team of the TenantNamespace of that
// name if there is one (provisioned or not), else the team label of the namespace (a released
// one); empty when neither says.
func NamespaceTeam(ctx context.Context, r client.Reader, ns string) (string, error) {
	var t platformv1alpha1.TenantNamespace
	err := r.Get(ctx, client.ObjectKey{Name: ns}, &t)
	if err == nil {
		return t.Spec.Team, nil
	}
	if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("reading TenantNamespace %s: %w", ns, err)
	}
	var n corev1.Namespace
	err = r.Get(ctx, client.ObjectKey{Name: ns}, &n)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	return n.Labels[platformv1alpha1.LabelTeam], nil
}

// CheckMemberNamespaces refuses ServiceAccount members whose namespace belongs to another team
// (a tenant of another team, or a namespace another team released): that team's owners hold
// admin there and could act for this one through the ServiceAccount.
func CheckMemberNamespaces(ctx context.Context, r client.Reader, team *platformv1alpha1.Team) (field.ErrorList, error) {
	var errs field.ErrorList
	path := field.NewPath("spec", "members")
	for i, m := range team.Spec.Members {
		if m.Kind != "ServiceAccount" {
			continue
		}
		owner, err := NamespaceTeam(ctx, r, m.Namespace)
		if err != nil {
			return nil, err
		}
		if owner != "" && owner != team.Name {
			errs = append(errs, field.Forbidden(path.Index(i), fmt.Sprintf("namespace %s belongs to team %s, whose owners could act for team %s through ServiceAccount %s; a ServiceAccount member must live in a namespace of its own team or of the platform",
				m.Namespace, owner, team.Name, m.Name)))
		}
	}
	return errs, nil
}

// IsMember reports whether the requester acts for the team: it is one of its members by user
// name, group or as a ServiceAccount. Members that can never act for a team (refusedMember)
// count for nothing, and a ServiceAccount counts only while its namespace is not another
// team's (read through r): a Team admitted before these rules, or a namespace taken in a race,
// never lets one team act for another.
func IsMember(ctx context.Context, r client.Reader, team *platformv1alpha1.Team, u authnv1.UserInfo, p Protected) (bool, error) {
	for _, m := range team.Spec.Members {
		if refusedMember(m, p) != "" || !Matches([]platformv1alpha1.Subject{m}, u) {
			continue
		}
		if m.Kind != "ServiceAccount" {
			return true, nil
		}
		owner, err := NamespaceTeam(ctx, r, m.Namespace)
		if err != nil {
			return false, err
		}
		if owner == "" || owner == team.Name {
			return true, nil
		}
	}
	return false, nil
}

// OwnerIsMember reports whether an owner of a tenant is a member of its Team as far as the
// cluster can tell: a Group or ServiceAccount the Team lists, or a User it lists by name. A User
// it does not list may still be a member through one of the Team's groups, which only the
// identity provider knows: such a User counts while the Team has Group members (admission
// checks the requester's own groups; taking someone out of a group is the identity provider's
// to do). Owners are the tenant's admins, so owners who are not members are never bound.
func OwnerIsMember(team *platformv1alpha1.Team, s platformv1alpha1.Subject) bool {
	if team == nil {
		return false // no Team, no members
	}
	groups := false
	for _, m := range team.Spec.Members {
		if m.Kind == s.Kind && m.Name == s.Name && m.Namespace == s.Namespace {
			return true
		}
		groups = groups || m.Kind == "Group" && !strings.HasPrefix(m.Name, systemPrefix)
	}
	return s.Kind == "User" && groups
}

// MemberOwners keeps the owners who are members of the team (OwnerIsMember); dropped names the
// others.
func MemberOwners(team *platformv1alpha1.Team, owners []platformv1alpha1.Subject) (kept []platformv1alpha1.Subject, dropped []string) {
	for _, s := range owners {
		if OwnerIsMember(team, s) {
			kept = append(kept, s)
		} else {
			dropped = append(dropped, s.Kind+" "+subjectName(s))
		}
	}
	return kept, dropped
}

// CheckOwnersAreMembers refuses the owners of a tenant, among those not in before (the owners
// before an update; nil on create), that are not members of its Team (OwnerIsMember): owners
// that stopped being members since they were added are reported and left unbound by the
// controller, not a reason to refuse an unrelated change.
func CheckOwnersAreMembers(team *platformv1alpha1.Team, t *platformv1alpha1.TenantNamespace, before []platformv1alpha1.Subject) field.ErrorList {
	var errs field.ErrorList
	for i, s := range t.Spec.Owners {
		if OwnerIsMember(team, s) || slices.Contains(before, s) {
			continue
		}
		errs = append(errs, field.Invalid(field.NewPath("spec", "owners").Index(i), s.Kind+" "+subjectName(s),
			fmt.Sprintf("not a member of Team %s: owners are the namespace's admins and act for the team; name a member, or ask the SREs to add it to the Team", team.Name)))
	}
	return errs
}
