package datadog

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/api/equality"
)

// External is the boundary between the ServiceSLO controller and Datadog, after crossplane's
// external client: Observe reads (the inventory, plus one look-up by tag after a create whose
// outcome is unknown, or one GET to confirm an object the inventory lacks), Create, Update and
// Delete write, and each is safe to repeat. The controller speaks only this; the SDK's types
// stay in this package.
type External struct {
	client    *Client
	inventory *Inventory
	pending   *Pending
}

// NewExternal returns the boundary over a client, the shared inventory, and the shared record
// of creates whose outcome is unknown.
func NewExternal(c *Client, inv *Inventory, p *Pending) *External {
	return &External{client: c, inventory: inv, pending: p}
}

// Observation is what Observe found of one object: the SLO (IDs are strings) or one tier's
// monitor (IDs are numbers).
type Observation[ID string | int64] struct {
	// Exists says Datadog holds the object; ID is its ID.
	Exists bool
	ID     ID
	// UpToDate says it equals the desired object; Diff says how not ("-want +have").
	UpToDate bool
	Diff     string
	// Duplicates are other objects carrying the same CR (and tier) tags and managed-by:selfserve,
	// left by a create whose answer was lost: Delete them.
	Duplicates []ID
}

// Pending remembers the creates whose outcome is unknown (a 5xx, a reset, a time-out: Datadog
// may have stored the object), by CR UID and tier ("" for the SLO), so that the next Observe
// looks for the object in Datadog by its tags before anything is created again (crossplane's
// "create pending", held in memory: after a restart the first inventory refresh, which every
// reconcile waits for, plays that part).
type Pending struct {
	mu   sync.Mutex
	keys map[string]bool
}

func pendingKey(uid, tier string) string { return uid + "/" + tier }

func (p *Pending) mark(uid, tier string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keys == nil {
		p.keys = map[string]bool{}
	}
	p.keys[pendingKey(uid, tier)] = true
}

func (p *Pending) has(uid, tier string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[pendingKey(uid, tier)]
}

func (p *Pending) clear(uid, tier string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, pendingKey(uid, tier))
}

// forget drops everything remembered of a CR.
func (p *Pending) forget(uid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.keys {
		if strings.HasPrefix(k, uid+"/") {
			delete(p.keys, k)
		}
	}
}

// managed keeps the objects that carry managed-by:selfserve: the operator deletes nothing else.
func managed[T any](objs []T, tags func(T) []string) []T {
	return slices.DeleteFunc(objs, func(o T) bool {
		return !slices.ContainsFunc(tags(o), func(t string) bool { return strings.EqualFold(t, TagManaged) })
	})
}

// diff says how have differs from want, empty when it does not; nil and empty lists are equal.
func diff(want, have any) string {
	if equality.Semantic.DeepEqual(want, have) {
		return ""
	}
	return cmp.Diff(want, have, cmpopts.EquateEmpty())
}

// keep chooses, among objects carrying the same tags, the one the status names, else the
// oldest (the first: lists come oldest first); the others are duplicates.
func keep[ID comparable](ids []ID, statusID ID) (ID, []ID) {
	k := ids[0]
	if slices.Contains(ids, statusID) {
		k = statusID
	}
	return k, slices.DeleteFunc(slices.Clone(ids), func(id ID) bool { return id == k })
}

// ObserveSLO finds the CR's SLO and compares it with want. statusID is the ID the CR's status
// names, if any.
func (e *External) ObserveSLO(ctx context.Context, uid, statusID string, want SLO) (Observation[string], error) {
	candidates := e.inventory.SLOs(uid)
	lost := e.pending.has(uid, "")
	if len(candidates) == 0 && lost {
		// The last create's answer was lost: Datadog may hold the SLO. Look before creating.
		list, err := e.client.ListSLOs(ctx, TagUIDPrefix+uid)
		if err != nil {
			return Observation[string]{}, err
		}
		candidates = GroupSLOs(managed(list, func(s datadogV1.ServiceLevelObjective) []string { return s.GetTags() }))[uid]
	}
	var obs Observation[string]
	var observed datadogV1.ServiceLevelObjective
	if len(candidates) > 0 {
		ids := make([]string, len(candidates))
		for i, s := range candidates {
			ids[i] = s.GetId()
		}
		obs.ID, obs.Duplicates = keep(ids, statusID)
		observed, obs.Exists = candidates[slices.Index(ids, obs.ID)], true
		if len(candidates) > 1 || lost {
			// Adopted after a lost answer, or kept among duplicates: the inventory learns which.
			e.inventory.PutSLO(uid, observed)
			e.pending.clear(uid, "")
		}
	}
	if !obs.Exists && statusID != "" {
		// The status names an SLO the inventory lacks: deleted in Datadog, or not listed yet.
		// One read tells which, so a stale inventory never causes a duplicate.
		s, err := e.client.GetSLO(ctx, statusID)
		switch {
		case err == nil:
			observed, obs.Exists, obs.ID = s, true, s.GetId()
			e.inventory.PutSLO(uid, s)
		case !IsKind(err, KindNotFound):
			return Observation[string]{}, err
		}
	}
	if obs.Exists {
		obs.Diff = diff(want, sloOf(observed))
		obs.UpToDate = obs.Diff == ""
	}
	return obs, nil
}

// CreateSLO creates the SLO and returns its ID. A create whose outcome is unknown is remembered,
// so that the next ObserveSLO looks for what it may have made.
func (e *External) CreateSLO(ctx context.Context, uid string, want SLO) (string, error) {
	created, err := e.client.CreateSLO(ctx, want.request())
	if IsKind(err, KindUnknown) {
		e.pending.mark(uid, "")
	}
	if err != nil {
		return "", err
	}
	e.pending.clear(uid, "")
	e.inventory.PutSLO(uid, created)
	return created.GetId(), nil
}

// UpdateSLO makes the SLO id equal want.
func (e *External) UpdateSLO(ctx context.Context, uid, id string, want SLO) error {
	updated, err := e.client.UpdateSLO(ctx, id, want.object())
	if err != nil {
		return err
	}
	e.inventory.PutSLO(uid, updated)
	return nil
}

// DeleteSLO deletes the SLO id (already gone is done).
func (e *External) DeleteSLO(ctx context.Context, uid, id string) error {
	if err := e.client.DeleteSLO(ctx, id); err != nil {
		return err
	}
	e.inventory.DropSLO(uid, id)
	return nil
}

// ObserveMonitor finds the monitor of a tier of the CR and compares it with want. statusID is
// the ID the CR's status gives the tier, 0 if none.
func (e *External) ObserveMonitor(ctx context.Context, uid string, statusID int64, want Monitor) (Observation[int64], error) {
	tier := want.Tier
	candidates := e.inventory.AllMonitors(uid)[tier]
	lost := e.pending.has(uid, tier)
	if len(candidates) == 0 && lost {
		list, err := e.client.ListMonitors(ctx, []string{TagUIDPrefix + uid, TagTierPrefix + tier})
		if err != nil {
			return Observation[int64]{}, err
		}
		candidates = GroupMonitors(managed(list, func(m datadogV1.Monitor) []string { return m.GetTags() }))[uid][tier]
	}
	var obs Observation[int64]
	var observed datadogV1.Monitor
	if len(candidates) > 0 {
		ids := make([]int64, len(candidates))
		for i, m := range candidates {
			ids[i] = m.GetId()
		}
		obs.ID, obs.Duplicates = keep(ids, statusID)
		observed, obs.Exists = candidates[slices.Index(ids, obs.ID)], true
		if len(candidates) > 1 || lost {
			e.inventory.PutMonitor(uid, tier, observed)
			e.pending.clear(uid, tier)
		}
	}
	if !obs.Exists && statusID != 0 {
		// As for the SLO: confirm the loss with one read before creating again.
		m, err := e.client.GetMonitor(ctx, statusID)
		switch {
		case err == nil:
			observed, obs.Exists, obs.ID = m, true, statusID
			e.inventory.PutMonitor(uid, tier, m)
		case !IsKind(err, KindNotFound):
			return Observation[int64]{}, err
		}
	}
	if obs.Exists {
		obs.Diff = diff(want, monitorOf(observed))
		obs.UpToDate = obs.Diff == ""
	}
	return obs, nil
}

// CreateMonitor creates the monitor and returns its ID; an unknown outcome is remembered as for
// CreateSLO.
func (e *External) CreateMonitor(ctx context.Context, uid string, want Monitor) (int64, error) {
	created, err := e.client.CreateMonitor(ctx, want.forCreate())
	if IsKind(err, KindUnknown) {
		e.pending.mark(uid, want.Tier)
	}
	if err != nil {
		return 0, err
	}
	e.pending.clear(uid, want.Tier)
	e.inventory.PutMonitor(uid, want.Tier, created)
	return created.GetId(), nil
}

// UpdateMonitor makes the monitor id equal want.
func (e *External) UpdateMonitor(ctx context.Context, uid string, id int64, want Monitor) error {
	updated, err := e.client.UpdateMonitor(ctx, id, want.forUpdate())
	if err != nil {
		return err
	}
	e.inventory.PutMonitor(uid, want.Tier, updated)
	return nil
}

// DeleteMonitor deletes the monitor id of a tier (already gone is done).
func (e *External) DeleteMonitor(ctx context.Context, uid, tier string, id int64) error {
	if err := e.client.DeleteMonitor(ctx, id); err != nil {
		return err
	}
	e.inventory.DropMonitor(uid, tier, id)
	return nil
}

// Tiers lists the tiers of the CR's monitors in Datadog, with their IDs: what a spec that no
// longer asks for a tier leaves to delete.
func (e *External) Tiers(uid string) map[string][]int64 {
	out := map[string][]int64{}
	for tier, ms := range e.inventory.AllMonitors(uid) {
		for _, m := range ms {
			out[tier] = append(out[tier], m.GetId())
		}
	}
	return out
}

// DeleteAll deletes every object of the CR — those its status names, the inventory's, and what
// two list calls find by its tag now (duplicates and objects of a lost create included) — the
// monitors first (Datadog refuses to delete an SLO that monitors reference), and forgets it.
func (e *External) DeleteAll(ctx context.Context, uid, statusSLO string, statusMonitors []int64) error {
	found, err := e.client.ListMonitors(ctx, []string{TagUIDPrefix + uid})
	if err != nil {
		return err
	}
	foundSLOs, err := e.client.ListSLOs(ctx, TagUIDPrefix+uid)
	if err != nil {
		return err
	}
	monitors := slices.Clone(statusMonitors)
	for _, ms := range e.inventory.AllMonitors(uid) {
		for _, m := range ms {
			monitors = append(monitors, m.GetId())
		}
	}
	for _, m := range managed(found, func(m datadogV1.Monitor) []string { return m.GetTags() }) {
		monitors = append(monitors, m.GetId())
	}
	var slos []string
	if statusSLO != "" {
		slos = append(slos, statusSLO)
	}
	for _, s := range append(e.inventory.SLOs(uid), GroupSLOs(managed(foundSLOs, func(s datadogV1.ServiceLevelObjective) []string { return s.GetTags() }))[uid]...) {
		slos = append(slos, s.GetId())
	}
	slices.Sort(monitors)
	slices.Sort(slos)
	for _, id := range slices.Compact(monitors) {
		if err := e.client.DeleteMonitor(ctx, id); err != nil {
			return err
		}
	}
	for _, id := range slices.Compact(slos) {
		if err := e.client.DeleteSLO(ctx, id); err != nil {
			return err
		}
	}
	for tier := range e.inventory.AllMonitors(uid) {
		e.inventory.RemoveMonitor(uid, tier)
	}
	e.inventory.RemoveSLO(uid)
	e.pending.forget(uid)
	return nil
}

// ErrorBudget is what the last search said of the SLO's error budget, per timeframe.
func (e *External) ErrorBudget(sloID string) []SLOStatus { return e.inventory.Status(sloID) }
