package tenancy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Held is what a team's tenant namespaces hold together.
type Held struct {
	// Tenants are the tenants counted, by name.
	Tenants []string
	// Quota is the sum of their ResourceQuota hard limits.
	Quota corev1.ResourceList
}

// Add counts one more tenant namespace with its quota.
func (h *Held) Add(name string, quota corev1.ResourceList) {
	h.Tenants = append(h.Tenants, name)
	if h.Quota == nil {
		h.Quota = corev1.ResourceList{}
	}
	for n, q := range quota {
		sum := h.Quota[n]
		sum.Add(q)
		h.Quota[n] = sum
	}
}

// AddReleased counts the team's namespaces that none of the tenants counted so far holds: the
// ones it released, listed through released (the apiserver, or the operator's cache of the
// namespaces it does not manage), and managed ones whose tenant is gone and which are being
// released (managed, as ListTeamNamespaces listed them). Each takes a place in the namespace
// budget until it is re-adopted or deleted, and no quota: a released namespace keeps a zero
// quota. except is the namespace a tenant is about to take (re-adopt). A namespace someone else
// labelled with the team was never a place.
func (h *Held) AddReleased(ctx context.Context, released client.Reader, team string, managed TeamNamespaces, except string) error {
	names, err := releasedNamespaces(ctx, released, team)
	if err != nil {
		return err
	}
	h.AddOthers(append(names, managed.Live()...), except)
	return nil
}

// releasedNamespaces lists the names of the team's released namespaces that are not being
// deleted, through r (the apiserver, or a cache that holds them: the manager's holds only
// managed ones).
func releasedNamespaces(ctx context.Context, r client.Reader, team string) ([]string, error) {
	var released metav1.PartialObjectMetadataList
	released.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.List(ctx, &released, client.MatchingLabels{platformv1alpha1.LabelTeam: team, LabelReleased: "true"}); err != nil {
		return nil, fmt.Errorf("listing the released namespaces of team %s: %w", team, err)
	}
	names := make([]string, 0, len(released.Items))
	for _, ns := range released.Items {
		if ns.DeletionTimestamp.IsZero() {
			names = append(names, ns.Name)
		}
	}
	return names, nil
}

// TeamNamespaces are a team's managed namespaces as the manager's cache holds them: shared with
// the cache, read only.
type TeamNamespaces struct {
	Items  []corev1.Namespace
	byName map[string]*corev1.Namespace
}

// ListTeamNamespaces lists the team's managed namespaces once, through NamespaceTeamIndex (cache
// is the manager's, where IndexByTeam registered it), not copied out of the cache: whether each
// of a team's tenants holds its namespace is then a look-up.
func ListTeamNamespaces(ctx context.Context, cache client.Reader, team string) (TeamNamespaces, error) {
	var list corev1.NamespaceList
	if err := cache.List(ctx, &list, client.MatchingFields{NamespaceTeamIndex: team}, client.UnsafeDisableDeepCopy); err != nil {
		return TeamNamespaces{}, fmt.Errorf("listing the namespaces of team %s: %w", team, err)
	}
	out := TeamNamespaces{Items: list.Items, byName: make(map[string]*corev1.Namespace, len(list.Items))}
	for i := range list.Items {
		out.byName[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// Holds reports whether the tenant's namespace is among them and provisioned for it (Holds).
func (n TeamNamespaces) Holds(t *platformv1alpha1.TenantNamespace) bool {
	ns := n.byName[t.Name]
	return ns != nil && Holds(ns, t)
}

// Live are the names of those not being deleted.
func (n TeamNamespaces) Live() []string {
	names := make([]string, 0, len(n.Items))
	for _, ns := range n.Items {
		if ns.DeletionTimestamp.IsZero() {
			names = append(names, ns.Name)
		}
	}
	return names
}

// AddOthers counts each named namespace that no tenant counted so far holds, once, with no
// quota; except is left out (see AddReleased).
func (h *Held) AddOthers(names []string, except string) {
	counted := make(map[string]bool, len(h.Tenants)+len(names))
	for _, n := range h.Tenants {
		counted[n] = true
	}
	for _, name := range names {
		if name != except && !counted[name] {
			counted[name] = true
			h.Add(name, nil)
		}
	}
}

// CheckBudget lists what one more tenant namespace with the given quota would take the team
// beyond its budget: the namespace count (at spec.team) and each capped resource's sum (at
// spec.quota.hard). A team without a budget is not capped.
func CheckBudget(team *platformv1alpha1.Team, held Held, quota corev1.ResourceList) field.ErrorList {
	return CheckBudgetChange(team, held, nil, quota, true)
}

// CheckBudgetChange is CheckBudget for a tenant whose quota goes from before to quota; a new
// tenant (newNamespace) also takes a place. Only what grows is checked: a decrease, or a
// resource left as it was, is always allowed, so a team over its budget (lowered under it) can
// always shrink.
func CheckBudgetChange(team *platformv1alpha1.Team, held Held, before, quota corev1.ResourceList, newNamespace bool) field.ErrorList {
	b := team.Spec.Budget
	if b == nil {
		return nil
	}
	var errs field.ErrorList
	if newNamespace && b.MaxNamespaces != nil && len(held.Tenants)+1 > int(*b.MaxNamespaces) {
		others := slices.Sorted(slices.Values(held.Tenants))
		errs = append(errs, field.Forbidden(teamPath,
			fmt.Sprintf("team %s would have %d namespaces, more than its budget of %d (it has [%s])", team.Name, len(held.Tenants)+1, *b.MaxNamespaces, strings.Join(others, " "))))
	}
	for _, name := range SortedNames(b.MaxQuota) {
		max := b.MaxQuota[name]
		q, asked := quota[name]
		if was, had := before[name]; !asked || had && q.Cmp(was) <= 0 {
			continue
		}
		others := held.Quota[name]
		sum := others.DeepCopy()
		sum.Add(q)
		if sum.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("spec", "quota", "hard").Key(string(name)), q.String(),
				fmt.Sprintf("with the team's other namespaces (%s) sums to %s, over team %s's budget of %s", others.String(), sum.String(), team.Name, max.String())))
		}
	}
	return errs
}

// OverBudget is CheckBudget as a refusal, nil when the tenant fits.
func OverBudget(team *platformv1alpha1.Team, held Held, quota corev1.ResourceList) *Refusal {
	errs := CheckBudget(team, held, quota)
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Field + ": " + e.Detail
	}
	return &Refusal{Reason: ReasonOverBudget, Field: teamPath, Message: strings.Join(msgs, "; ")}
}

// Left is what the team may still add to what it holds; nil without a budget. A resource at or
// over its budget has nothing left (0, never negative).
func Left(team *platformv1alpha1.Team, held Held) *platformv1alpha1.BudgetLeft {
	b := team.Spec.Budget
	if b == nil {
		return nil
	}
	out := &platformv1alpha1.BudgetLeft{}
	if b.MaxNamespaces != nil {
		out.Namespaces = ptr.To(max(*b.MaxNamespaces-int32(len(held.Tenants)), 0))
	}
	for name, limit := range b.MaxQuota {
		left := limit.DeepCopy()
		used := held.Quota[name]
		left.Sub(used)
		if left.Sign() < 0 {
			left = resource.MustParse("0")
		}
		if out.Quota == nil {
			out.Quota = corev1.ResourceList{}
		}
		out.Quota[name] = left
	}
	return out
}

// Exceeded lists how the team holds more than its budget (after the budget was lowered), for
// the Team's status; empty when within.
func Exceeded(team *platformv1alpha1.Team, held Held) []string {
	b := team.Spec.Budget
	if b == nil {
		return nil
	}
	var out []string
	if b.MaxNamespaces != nil && len(held.Tenants) > int(*b.MaxNamespaces) {
		out = append(out, fmt.Sprintf("%d namespaces, budget %d", len(held.Tenants), *b.MaxNamespaces))
	}
	for _, name := range SortedNames(b.MaxQuota) {
		sum, limit := held.Quota[name], b.MaxQuota[name]
		if sum.Cmp(limit) > 0 {
			out = append(out, fmt.Sprintf("%s %s, budget %s", name, sum.String(), limit.String()))
		}
	}
	return out
}

// QuotaName is the tenant's ResourceQuota in its namespace.
const QuotaName = "selfserve-quota"

// Classes resolves tenants' classes through a reader once per class name, for a loop over many
// tenants of a few classes (a Team's status): one read, not one read and one copy per tenant.
// What it returns is shared: read only.
type Classes struct {
	r      client.Reader
	byName map[string]*platformv1alpha1.TenantClass
}

// NewClasses returns a resolver reading through r.
func NewClasses(r client.Reader) *Classes {
	return &Classes{r: r, byName: map[string]*platformv1alpha1.TenantClass{}}
}

// Resolve is ResolveClass, remembered by the class the tenant names ("" for the default).
func (c *Classes) Resolve(ctx context.Context, t *platformv1alpha1.TenantNamespace) (*platformv1alpha1.TenantClass, error) {
	key := firstNonEmpty(t.Spec.Class, t.Status.Class)
	if class, ok := c.byName[key]; ok {
		return class, nil
	}
	class, err := ResolveClass(ctx, c.r, t)
	if err != nil {
		return nil, err
	}
	c.byName[key] = class
	return class, nil
}

// HeldQuota is what a provisioned tenant's ResourceQuota holds, as the quota controller last
// reported it (status.hard, which the operator's cache keeps): whatever its class says now, a
// class deleted or changed frees nothing it holds. Before the quota controller reports, it is
// what the class makes of the spec (QuotaOf), the class resolved once per name. What it returns
// is read only: a cache's ResourceQuota is not copied (a Team sums a thousand of them).
func (c *Classes) HeldQuota(ctx context.Context, t *platformv1alpha1.TenantNamespace) corev1.ResourceList {
	var rq corev1.ResourceQuota
	if err := c.r.Get(ctx, client.ObjectKey{Namespace: t.Name, Name: QuotaName}, &rq, &client.GetOptions{UnsafeDisableDeepCopy: ptr.To(true)}); err == nil && len(rq.Status.Hard) > 0 {
		return rq.Status.Hard
	}
	class, err := c.Resolve(ctx, t)
	if err != nil {
		return nil
	}
	return EffectiveQuota(t, class)
}

// QuotaOf is what a tenant's ResourceQuota holds, in its class; nothing when its class cannot
// be resolved (such a tenant is not provisioned).
func QuotaOf(ctx context.Context, r client.Reader, t *platformv1alpha1.TenantNamespace) corev1.ResourceList {
	class, err := ResolveClass(ctx, r, t)
	if err != nil {
		return nil
	}
	return EffectiveQuota(t, class)
}

// HoldsNamespace reports whether the tenant's namespace is provisioned for it (see Holds),
// reading the namespace through r (the operator's cache holds its own namespaces).
func HoldsNamespace(ctx context.Context, r client.Reader, t *platformv1alpha1.TenantNamespace) (bool, error) {
	var ns corev1.Namespace
	err := r.Get(ctx, client.ObjectKey{Name: t.Name}, &ns)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading namespace %s: %w", t.Name, err)
	}
	return Holds(&ns, t), nil
}
