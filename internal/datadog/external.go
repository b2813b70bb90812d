package datadog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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
// may have stored the object, or may store it later), by CR UID and tier ("" for the SLO), with
// when each was sent. Until it has settled (Settings.SettlesAt), nothing is created in its
// place and the CR is not released; a look-up after that which finds nothing ends it. The
// controller keeps the records in the CR's status too (Records, Restore), so a restart
// forgets none.
type Pending struct {
	mu   sync.Mutex
	sent map[string]time.Time
}

func pendingKey(uid, tier string) string { return uid + "/" + tier }

// mark records a create sent at sent, counted from the next whole second: the status keeps
// seconds, and a record read back from it must not settle earlier than the one in memory.
func (p *Pending) mark(uid, tier string, sent time.Time) {
	sent = sent.Truncate(time.Second).Add(time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent == nil {
		p.sent = map[string]time.Time{}
	}
	p.sent[pendingKey(uid, tier)] = sent
}

func (p *Pending) sentAt(uid, tier string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.sent[pendingKey(uid, tier)]
	return t, ok
}

func (p *Pending) clear(uid, tier string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sent, pendingKey(uid, tier))
}

// forget drops everything remembered of a CR.
func (p *Pending) forget(uid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.sent {
		if strings.HasPrefix(k, uid+"/") {
			delete(p.sent, k)
		}
	}
}

// Records returns when each create of a CR whose outcome is unknown was sent, by tier ("" for
// the SLO).
func (p *Pending) Records(uid string) map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]time.Time{}
	for k, t := range p.sent {
		if tier, ok := strings.CutPrefix(k, uid+"/"); ok {
			out[tier] = t
		}
	}
	return out
}

// Restore brings back a record kept in the CR's status (after a restart, or a status written
// by another replica), unless one is held already.
func (p *Pending) Restore(uid, tier string, sent time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent == nil {
		p.sent = map[string]time.Time{}
	}
	if _, ok := p.sent[pendingKey(uid, tier)]; !ok {
		p.sent[pendingKey(uid, tier)] = sent
	}
}

// unsettled is the error of a create whose outcome is still unknown: nothing may be created in
// its place (nor the CR released) before RetryAfter has passed.
func unsettled(op string, sent, settles time.Time) error {
	return &Error{Op: op, Kind: KindUnknown, RetryAfter: time.Until(settles),
		Message: fmt.Sprintf("the create sent at %s had no answer and Datadog may still store it; looking again at %s before creating anything in its place",
			sent.UTC().Format(time.RFC3339), settles.UTC().Format(time.RFC3339))}
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
	op         string                             // the create's, for errors
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
// was deleted or is not listed yet, so a stale inventory never causes a duplicate. After a
// create whose outcome is unknown, a look-up that finds nothing is believed only once made
// after the create has settled; before that, observe answers with the unsettled error.
func observe[ID string | int64, O any](ctx context.Context, s Settings, p *Pending, uid, tier string, statusID ID, k object[ID, O]) (Observation[ID], error) {
	var obs Observation[ID]
	candidates := k.candidates()
	sent, lost := p.sentAt(uid, tier)
	if len(candidates) == 0 && lost {
		// Datadog may hold what the lost create made: look before creating.
		looked := time.Now()
		found, err := k.lookup(ctx)
		if err != nil {
			return obs, err
		}
		candidates = found
		if settles := s.SettlesAt(sent); len(found) == 0 && looked.Before(settles) {
			return obs, unsettled(k.op, sent, settles)
		}
		if len(found) == 0 {
			p.clear(uid, tier) // settled: the create stored nothing
		}
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
	return observe(ctx, e.client.Settings(), e.pending, uid, "", statusID, object[string, datadogV1.ServiceLevelObjective]{
		op:         "create SLO",
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
	sent := time.Now()
	created, err := e.client.CreateSLO(ctx, want.request())
	if IsKind(err, KindUnknown) {
		e.pending.mark(uid, "", sent)
	}
	if err != nil {
		return "", err
	}
	e.pending.clear(uid, "")
	e.inventory.AddSLO(uid, created)
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
	return observe(ctx, e.client.Settings(), e.pending, uid, tier, statusID, object[int64, datadogV1.Monitor]{
		op:         "create monitor",
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
	sent := time.Now()
	created, err := e.client.CreateMonitor(ctx, want.forCreate())
	if IsKind(err, KindUnknown) {
		e.pending.mark(uid, want.Tier, sent)
	}
	if err != nil {
		return 0, err
	}
	e.pending.clear(uid, want.Tier)
	e.inventory.AddMonitor(uid, want.Tier, created)
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
// While a create of the CR whose outcome is unknown has not settled, what it may still make
// is not known: DeleteAll then answers with the unsettled error, to be called again after it.
func (e *External) DeleteAll(ctx context.Context, uid, statusSLO string, statusMonitors []int64) error {
	looked := time.Now()
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
	return e.settled(uid, e.pending.Records(uid), looked)
}

// settled ends a deletion of a CR's objects made from what Datadog listed at looked: once every
// create of the CR whose outcome was unknown (records) has settled by then, nothing more can
// appear and the CR is forgotten; otherwise the unsettled error says when to look again.
func (e *External) settled(uid string, records map[string]time.Time, looked time.Time) error {
	var latest, latestSent time.Time
	for _, sent := range records {
		if settles := e.client.Settings().SettlesAt(sent); settles.After(latest) {
			latest, latestSent = settles, sent
		}
	}
	if looked.Before(latest) {
		return unsettled("delete", latestSent, latest)
	}
	e.pending.forget(uid)
	return nil
}

// DeleteMonitorsOf deletes the monitors of a CR that has no SLO (a tenant's baseline monitors)
// with no read when nothing of it is in doubt: those the inventory holds (the last poll's list
// and the operator's own creates since). Only while a create of the CR had no answer does one
// list call by its tag look for what that create may have made, and until the create has
// settled the unsettled error says to come back. A monitor made by another process that the
// last poll did not list yet is left to the sweep after the next poll.
func (e *External) DeleteMonitorsOf(ctx context.Context, uid string) error {
	var ids []int64
	for _, ms := range e.inventory.AllMonitors(uid) {
		for _, m := range ms {
			ids = append(ids, m.GetId())
		}
	}
	records := e.pending.Records(uid)
	looked := time.Now()
	if len(records) > 0 {
		found, err := e.client.ListMonitors(ctx, []string{TagUIDPrefix + uid})
		if err != nil {
			return err
		}
		for _, m := range managed(found, func(m datadogV1.Monitor) []string { return m.GetTags() }) {
			ids = append(ids, m.GetId())
		}
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if err := e.client.DeleteMonitor(ctx, id); err != nil {
			return err
		}
	}
	for tier := range e.inventory.AllMonitors(uid) {
		e.inventory.RemoveMonitor(uid, tier)
	}
	return e.settled(uid, records, looked)
}

// MonitorState is Datadog's overall state of the CR's monitor of a tier at the last read (OK,
// Alert, No Data, ...), "" when none is known.
func (e *External) MonitorState(uid, tier string) string {
	ms := e.inventory.AllMonitors(uid)[tier]
	if len(ms) == 0 {
		return ""
	}
	return string(ms[0].GetOverallState())
}

// ErrorBudget is what the last search said of the SLO's error budget, per timeframe.
func (e *External) ErrorBudget(sloID string) []SLOStatus { return e.inventory.Status(sloID) }
