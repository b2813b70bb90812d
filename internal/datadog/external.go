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

// object is how Observe reaches one kind of object (an SLO, or a tier's monitors): O is the
// SDK's type, ID its ID's.
type object[ID string | int64, O any] struct {
	candidates func() []O                         // the inventory's, oldest first
	lookup     func(context.Context) ([]O, error) // one list call by the CR's (and tier's) tags
	get        func(context.Context, ID) (O, error)
	id         func(O) ID
	put        func(O) // the inventory learns which object is the CR's
	compare    func(O) string
}

// observe finds a CR's object: among the inventory's candidates (or, after a create whose
// answer was lost, what one list call finds), the one the status names, else the oldest; the
// others are duplicates. When none is known but the status names one, one GET tells whether it
// was deleted or is not listed yet, so a stale inventory never causes a duplicate.
func observe[ID string | int64, O any](ctx context.Context, p *Pending, uid, tier string, statusID ID, k object[ID, O]) (Observation[ID], error) {
	var obs Observation[ID]
	candidates := k.candidates()
	lost := p.has(uid, tier)
	if len(candidates) == 0 && lost {
		// Datadog may hold what the lost create made: look before creating.
		found, err := k.lookup(ctx)
		if err != nil {
			return obs, err
		}
		candidates = found
	}
	var observed O
	if len(candidates) > 0 {
		ids := make([]ID, len(candidates))
		for i, c := range candidates {
			ids[i] = k.id(c)
		}
		obs.ID, obs.Duplicates = keep(ids, statusID)
		observed, obs.Exists = candidates[slices.Index(ids, obs.ID)], true
		if len(candidates) > 1 || lost {
			// Adopted after a lost answer, or kept among duplicates.
			k.put(observed)
			p.clear(uid, tier)
		}
	}
	var none ID
	if !obs.Exists && statusID != none {
		o, err := k.get(ctx, statusID)
		switch {
		case err == nil:
			observed, obs.Exists, obs.ID = o, true, statusID
			k.put(o)
		case !IsKind(err, KindNotFound):
			return Observation[ID]{}, err
		}
	}
	if obs.Exists {
		obs.Diff = k.compare(observed)
		obs.UpToDate = obs.Diff == ""
	}
	return obs, nil
}

// ObserveSLO finds the CR's SLO and compares it with want. statusID is the ID the CR's status
// names, if any.
func (e *External) ObserveSLO(ctx context.Context, uid, statusID string, want SLO) (Observation[string], error) {
	return observe(ctx, e.pending, uid, "", statusID, object[string, datadogV1.ServiceLevelObjective]{
		candidates: func() []datadogV1.ServiceLevelObjective { return e.inventory.SLOs(uid) },
		lookup: func(ctx context.Context) ([]datadogV1.ServiceLevelObjective, error) {
			list, err := e.client.ListSLOs(ctx, TagUIDPrefix+uid)
			return GroupSLOs(managed(list, func(s datadogV1.ServiceLevelObjective) []string { return s.GetTags() }))[uid], err
		},
		get:     e.client.GetSLO,
		id:      func(s datadogV1.ServiceLevelObjective) string { return s.GetId() },
		put:     func(s datadogV1.ServiceLevelObjective) { e.inventory.PutSLO(uid, s) },
		compare: func(s datadogV1.ServiceLevelObjective) string { return diff(want, sloOf(s)) },
	})
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
	return observe(ctx, e.pending, uid, tier, statusID, object[int64, datadogV1.Monitor]{
		candidates: func() []datadogV1.Monitor { return e.inventory.AllMonitors(uid)[tier] },
		lookup: func(ctx context.Context) ([]datadogV1.Monitor, error) {
			list, err := e.client.ListMonitors(ctx, []string{TagUIDPrefix + uid, TagTierPrefix + tier})
			return GroupMonitors(managed(list, func(m datadogV1.Monitor) []string { return m.GetTags() }))[uid][tier], err
		},
		get:     e.client.GetMonitor,
		id:      func(m datadogV1.Monitor) int64 { return m.GetId() },
		put:     func(m datadogV1.Monitor) { e.inventory.PutMonitor(uid, tier, m) },
		compare: func(m datadogV1.Monitor) string { return diff(want, monitorOf(m)) },
	})
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
