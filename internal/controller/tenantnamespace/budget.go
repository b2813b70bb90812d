package tenantnamespace

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// budgets is the one ledger of teams' budgets: which tenants get a namespace, and how much of
// the quota they ask each one's ResourceQuota may hold. Admission checks the budget too, but it
// reads a cache and parallel requests race it; this is the decision that holds. Decisions for
// all teams are taken one at a time under one lock, and each is recorded before the operator
// applies it, so two workers never hand out the same place or the same CPU. Only the elected
// leader reconciles, so one process holds every decision; after a restart the namespaces and
// ResourceQuotas themselves say what each tenant holds.
type budgets struct {
	mu sync.Mutex
	// granted are the tenants given a place whose namespace the cache may not show yet, by
	// name, with the UID of the tenant that was granted.
	granted map[string]types.UID
	// quotas is what each tenant's ResourceQuota holds, as decided here (or read from the
	// apiserver the first time it is needed): what the team's budget counts, never what a
	// tenant asks nor what its class would say (a class that cannot be resolved frees nothing).
	quotas map[string]ledgerEntry
	// pending are the tenants whose quota increase was capped, oldest first served: the room
	// that frees up goes to them before a younger tenant's increase.
	pending map[string]pendingIncrease
}

type ledgerEntry struct {
	uid  types.UID
	hard corev1.ResourceList
}

// pendingIncrease is a capped increase: whose (the tenant's name, UID and creation time, which
// order the queue) and what it asks.
type pendingIncrease struct {
	tenant metav1.ObjectMeta
	want   corev1.ResourceList
}

// claim gives the tenant its place in the team's budget, or returns a refusal (OverBudget)
// when the place is not there. A tenant whose namespace is already provisioned holds its place
// (a lowered budget takes nothing away). Waiting tenants are served oldest first (creation
// time, then name), each taking a place if it fits: a younger tenant never takes the place an
// older one fits in.
func (b *budgets) claim(ctx context.Context, r *Reconciler, s *scope) error {
	t := s.tenant
	if s.team.Spec.Budget == nil {
		return nil
	}
	holds, err := tenancy.HoldsNamespace(ctx, r.Client, t)
	if err != nil || holds {
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	b.init()
	if b.granted[t.Name] == t.UID {
		return nil
	}
	held, waiting, namespaces, err := b.teamHolding(ctx, r, t)
	if err != nil {
		return err
	}
	// Namespaces the team released still hold their places.
	if err := held.AddReleased(ctx, r.APIReader, t.Spec.Team, namespaces, t.Name); err != nil {
		return err
	}
	waiting = append(waiting, t)
	sortOldestFirst(waiting)
	for _, w := range waiting {
		if w.UID == t.UID {
			if refusal := tenancy.OverBudget(s.team, held, s.Quota); refusal != nil {
				return refusal
			}
			b.granted[t.Name] = t.UID
			b.quotas[t.Name] = ledgerEntry{uid: t.UID, hard: s.Quota}
			return nil
		}
		quota := tenancy.QuotaOf(ctx, r.Client, w)
		if tenancy.OverBudget(s.team, held, quota) == nil {
			// An older tenant that fits takes its place first; its own reconcile finds it granted.
			b.granted[w.Name] = w.UID
			b.quotas[w.Name] = ledgerEntry{uid: w.UID, hard: quota}
			held.Add(w.Name, quota)
		}
	}
	return nil
}

// admitQuota decides how much of the quota it asks (s.Quota) a tenant that holds its place may
// have: a decrease always, an increase as far as the team's budget has room once the others'
// quotas and the older tenants' capped increases are counted. What does not fit is capped
// (never below what the tenant holds: a lowered budget takes nothing away) and reported: the
// result is a message for QuotaReady, empty when the tenant has all it asks.
func (b *budgets) admitQuota(ctx context.Context, r *Reconciler, s *scope) (string, error) {
	t := s.tenant
	if !capsQuota(s.team) {
		return "", nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.init()
	cur, err := b.quotaOf(ctx, r, t)
	if err != nil {
		return "", err
	}
	increases := false
	for name := range s.team.Spec.Budget.MaxQuota {
		if want, asked := s.Quota[name]; asked && want.Cmp(cur[name]) > 0 {
			increases = true
		}
	}
	if !increases {
		// A decrease counts once it is applied (applied): until then the ResourceQuota still
		// holds the larger quota, and another tenant's increase must not count on the room.
		delete(b.pending, t.Name)
		return "", nil
	}
	held, _, _, err := b.teamHolding(ctx, r, t)
	if err != nil {
		return "", err
	}
	out := s.Quota.DeepCopy()
	var capped []string
	for _, name := range tenancy.SortedNames(s.team.Spec.Budget.MaxQuota) {
		want, asked := s.Quota[name]
		have := cur[name]
		if !asked || want.Cmp(have) <= 0 {
			continue
		}
		limit := s.team.Spec.Budget.MaxQuota[name]
		room := limit.DeepCopy()
		others := held.Quota[name]
		room.Sub(others)
		// Older tenants whose increases wait are served first.
		for _, p := range b.olderPending(t) {
			need := p.want[name].DeepCopy()
			need.Sub(b.quotas[p.tenant.Name].hard[name])
			if need.Sign() > 0 && room.Sign() > 0 {
				room.Sub(tenancy.AtMost(need, room))
			}
		}
		if want.Cmp(room) <= 0 {
			continue
		}
		allowed := tenancy.AtLeast(room, have)
		out[name] = allowed
		capped = append(capped, fmt.Sprintf("%s %s of the %s asked (team %s's budget %s, its other namespaces hold %s)",
			name, allowed.String(), want.String(), s.team.Name, limit.String(), others.String()))
	}
	b.quotas[t.Name] = ledgerEntry{uid: t.UID, hard: largest(cur, out)}
	if len(capped) == 0 {
		delete(b.pending, t.Name)
		return "", nil
	}
	b.pending[t.Name] = pendingIncrease{tenant: metav1.ObjectMeta{Name: t.Name, UID: t.UID, CreationTimestamp: t.CreationTimestamp}, want: s.Quota}
	s.Quota = out
	return "over the team's budget, the quota holds " + strings.Join(capped, "; ") + "; the rest follows when the team has room", nil
}

// applied records the quota the tenant's ResourceQuota holds now that it is applied (or found
// in place), for a team whose budget caps quota. Tenants of other teams keep no entry (at
// 10,000 tenants the ledger would otherwise hold every quota), and lose the one they had: an
// entry left from a budget removed and set again would be stale.
func (b *budgets) applied(team *platformv1alpha1.Team, t *platformv1alpha1.TenantNamespace, hard corev1.ResourceList) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.init()
	if !capsQuota(team) {
		delete(b.quotas, t.Name)
		return
	}
	b.quotas[t.Name] = ledgerEntry{uid: t.UID, hard: hard}
}

// largest is, resource by resource, the larger of two quotas.
func largest(a, b corev1.ResourceList) corev1.ResourceList {
	out := a.DeepCopy()
	if out == nil {
		out = corev1.ResourceList{}
	}
	for name, q := range b {
		if cur, ok := out[name]; !ok || q.Cmp(cur) > 0 {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

// teamHolding is what the tenant's team holds apart from it: the tenants that hold or were
// granted a place, each with its ResourceQuota as the ledger knows it, and the tenants that
// wait for a place; and the team's managed namespaces it looked them up in. Tenants being
// deleted count no more.
func (b *budgets) teamHolding(ctx context.Context, r *Reconciler, t *platformv1alpha1.TenantNamespace) (tenancy.Held, []*platformv1alpha1.TenantNamespace, tenancy.TeamNamespaces, error) {
	var held tenancy.Held
	var waiting []*platformv1alpha1.TenantNamespace
	var list platformv1alpha1.TenantNamespaceList
	if err := r.Client.List(ctx, &list, client.MatchingFields{tenancy.TeamIndex: t.Spec.Team}); err != nil {
		return held, nil, tenancy.TeamNamespaces{}, fmt.Errorf("listing the tenants of team %s: %w", t.Spec.Team, err)
	}
	namespaces, err := tenancy.ListTeamNamespaces(ctx, r.Client, t.Spec.Team)
	if err != nil {
		return held, nil, namespaces, err
	}
	for i := range list.Items {
		o := &list.Items[i]
		if !o.DeletionTimestamp.IsZero() || o.UID == t.UID {
			continue
		}
		holds := b.granted[o.Name] == o.UID || namespaces.Holds(o)
		if !holds {
			waiting = append(waiting, o)
			continue
		}
		quota, err := b.quotaOf(ctx, r, o)
		if err != nil {
			return held, nil, namespaces, err
		}
		held.Add(o.Name, quota)
	}
	return held, waiting, namespaces, nil
}

// quotaOf is what the tenant's ResourceQuota holds: the ledger's entry, or, the first time
// after a start, the ResourceQuota read from the apiserver (the cache keeps no spec).
func (b *budgets) quotaOf(ctx context.Context, r *Reconciler, t *platformv1alpha1.TenantNamespace) (corev1.ResourceList, error) {
	if e, ok := b.quotas[t.Name]; ok && e.uid == t.UID {
		return e.hard, nil
	}
	hard, err := r.readQuota(ctx, t)
	if err != nil {
		return nil, err
	}
	b.quotas[t.Name] = ledgerEntry{uid: t.UID, hard: hard}
	return hard, nil
}

// capsQuota reports whether the team's budget caps any quota resource.
func capsQuota(team *platformv1alpha1.Team) bool {
	return team != nil && team.Spec.Budget != nil && len(team.Spec.Budget.MaxQuota) > 0
}

// olderPending are the capped increases of tenants older than t, oldest first.
func (b *budgets) olderPending(t *platformv1alpha1.TenantNamespace) []pendingIncrease {
	var out []pendingIncrease
	for _, p := range b.pending {
		if p.tenant.UID != t.UID && compareAge(&p.tenant, &t.ObjectMeta) < 0 {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y pendingIncrease) int { return compareAge(&x.tenant, &y.tenant) })
	return out
}

func (b *budgets) init() {
	if b.granted == nil {
		b.granted = map[string]types.UID{}
		b.quotas = map[string]ledgerEntry{}
		b.pending = map[string]pendingIncrease{}
	}
}

// release forgets a tenant that is gone: its place, its quota, its pending increase.
func (b *budgets) release(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.granted, name)
	delete(b.quotas, name)
	delete(b.pending, name)
}

func sortOldestFirst(tenants []*platformv1alpha1.TenantNamespace) {
	slices.SortFunc(tenants, func(x, y *platformv1alpha1.TenantNamespace) int { return compareAge(x, y) })
}

// compareAge orders tenants by creation time, then name.
func compareAge(x, y metav1.Object) int {
	if c := x.GetCreationTimestamp().Compare(y.GetCreationTimestamp().Time); c != 0 {
		return c
	}
	return cmp.Compare(x.GetName(), y.GetName())
}
