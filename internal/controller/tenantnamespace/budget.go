package tenantnamespace

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// budgets decides which of a team's tenants get a namespace when the team has a budget.
// Admission checks the budget too, but it reads a cache and parallel requests race it; this is
// the decision that holds. Decisions for all teams are taken one at a time under one lock, and
// a tenant granted a place keeps it in memory until its namespace shows in the cache, so two
// workers never hand out the same place. Only the elected leader reconciles, so one process
// holds every grant; after a restart the namespaces themselves say who holds a place.
type budgets struct {
	mu sync.Mutex
	// granted are the tenants given a place whose namespace the cache may not show yet, by
	// name, with the UID of the tenant that was granted.
	granted map[string]types.UID
}

// claim gives the tenant its place in the team's budget, or returns a refusal (OverBudget)
// when the place is not there. A tenant whose namespace is already provisioned holds its place
// (a lowered budget takes nothing away). Waiting tenants are served oldest first (creation
// time, then name), each taking a place if it fits: a younger tenant never takes the place an
// older one fits in.
func (b *budgets) claim(ctx context.Context, c, api client.Reader, s *scope) error {
	t := s.tenant
	if s.team.Spec.Budget == nil {
		return nil
	}
	holds, err := tenancy.HoldsNamespace(ctx, c, t)
	if err != nil || holds {
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.granted == nil {
		b.granted = map[string]types.UID{}
	}
	if b.granted[t.Name] == t.UID {
		return nil
	}
	var list platformv1alpha1.TenantNamespaceList
	if err := c.List(ctx, &list, client.MatchingFields{tenancy.TeamIndex: t.Spec.Team}); err != nil {
		return fmt.Errorf("listing the tenants of team %s: %w", t.Spec.Team, err)
	}
	var held tenancy.Held
	var waiting []*platformv1alpha1.TenantNamespace
	for i := range list.Items {
		o := &list.Items[i]
		if !o.DeletionTimestamp.IsZero() || o.UID == t.UID {
			continue
		}
		holds := b.granted[o.Name] == o.UID
		if !holds {
			if holds, err = tenancy.HoldsNamespace(ctx, c, o); err != nil {
				return err
			}
		}
		if holds {
			held.Add(o.Name, tenancy.QuotaOf(ctx, c, o))
		} else {
			waiting = append(waiting, o)
		}
	}
	// Namespaces the team released still hold their places.
	if err := held.AddReleased(ctx, api, t.Spec.Team, t.Name); err != nil {
		return err
	}
	waiting = append(waiting, t)
	slices.SortFunc(waiting, func(x, y *platformv1alpha1.TenantNamespace) int {
		if c := x.CreationTimestamp.Compare(y.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(x.Name, y.Name)
	})
	for _, w := range waiting {
		if w.UID == t.UID {
			if refusal := tenancy.OverBudget(s.team, held, s.Quota); refusal != nil {
				return refusal
			}
			b.granted[t.Name] = t.UID
			return nil
		}
		quota := tenancy.QuotaOf(ctx, c, w)
		if tenancy.OverBudget(s.team, held, quota) == nil {
			// An older tenant that fits takes its place first; its own reconcile finds it granted.
			b.granted[w.Name] = w.UID
			held.Add(w.Name, quota)
		}
	}
	return nil
}

// release forgets a tenant's grant: it holds its place through its namespace now, or it is gone.
func (b *budgets) release(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.granted, name)
}
