package datadog

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
)

// Tags the operator puts on everything it creates in Datadog.
const (
	// TagManaged marks the operator's SLOs and monitors; the batched reads filter on it.
	TagManaged = "managed-by:selfserve"
	// TagUIDPrefix + the ServiceSLO's UID is unique to one CR: after a crash between Datadog's
	// answer and the status write, the object is found by it and adopted, never duplicated.
	TagUIDPrefix = "selfserve-uid:"
	// TagTierPrefix + the tier name tells a CR's burn-rate monitors apart.
	TagTierPrefix = "selfserve-tier:"
)

// Inventory is the operator's view of the SLOs and monitors it manages in Datadog. It is
// refreshed in batches — a few list calls per poll for every ServiceSLO, not one GET per
// object — and kept current by the operator's own writes in between.
//
// It keeps every object carrying a CR's tag, duplicates included (two SLOs for one CR, two
// monitors for one tier): they cannot come from a create whose answer arrived, but may from one
// whose answer was lost, and the controller deletes them rather than leak them.
type Inventory struct {
	mu sync.RWMutex
	// journal holds the operator's recent writes to the inventory: a refresh's lists may
	// predate them, or trail them by Datadog's index delay, so they are applied again on top of
	// its result. Creates (while the lists lack the object) and deletions are replayed for the
	// settle window before the refresh began, or an object just created would vanish from the
	// inventory and be created a second time, or be left behind by a deletion; updates and what
	// reads learned only when made during the refresh (the lists are the truth about those,
	// drift included).
	journal  []journalEntry
	slos     map[string][]datadogV1.ServiceLevelObjective // by CR UID, oldest first
	monitors map[string]map[string][]datadogV1.Monitor    // by CR UID, then tier, oldest first
	status   map[string][]SLOStatus                       // by SLO ID
	// dashboards are the Teams' dashboards, by Team UID, oldest first.
	dashboards map[string][]datadogV1.DashboardSummaryDefinition
	// dashboardsErr is why the last refresh could not list the dashboards, nil when it could.
	dashboardsErr error
	synced        time.Time
}

// NewInventory returns an inventory that has not been refreshed yet.
func NewInventory() *Inventory {
	return &Inventory{slos: map[string][]datadogV1.ServiceLevelObjective{}, monitors: map[string]map[string][]datadogV1.Monitor{}, status: map[string][]SLOStatus{},
		dashboards: map[string][]datadogV1.DashboardSummaryDefinition{}}
}

// journalEntry is a write to the inventory, when it was made, and whether it is a create or a
// deletion (replayed for the settle window).
type journalEntry struct {
	at      time.Time
	settles bool
	apply   func()
}

// Refresh reads every managed SLO and monitor, the SLOs' error budgets and the dashboards: four
// paginated reads for all ServiceSLOs, tenants and Teams. A failure to list the dashboards is
// not the refresh's (DashboardsErr).
func (inv *Inventory) Refresh(ctx context.Context, c *Client, now time.Time) error {
	began := time.Now()
	since := began.Add(-cmp.Or(c.Settings().Settle, DefaultSettle))
	slos, err := c.ListSLOs(ctx, TagManaged)
	if err != nil {
		return err
	}
	monitors, err := c.ListMonitors(ctx, []string{TagManaged})
	if err != nil {
		return err
	}
	status, err := c.SearchSLOStatus(ctx, TagManaged)
	if err != nil {
		return err
	}
	// The dashboards are the Teams' alone: a key that may not read them (a 403) must not stop
	// the SLOs' budgets and the monitors from being read. Their failure is kept for the Teams.
	dashboards, dashErr := c.ListDashboards(ctx)
	bySLO, byMon := GroupSLOs(slos), GroupMonitors(monitors)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.slos, inv.monitors, inv.status, inv.synced = bySLO, byMon, status, now
	inv.dashboardsErr = dashErr
	if dashErr == nil {
		inv.dashboards = groupDashboards(dashboards)
	}
	inv.journal = slices.DeleteFunc(inv.journal, func(e journalEntry) bool { return e.at.Before(since) })
	for _, e := range inv.journal {
		if e.settles || !e.at.Before(began) {
			e.apply()
		}
	}
	return nil
}

// GroupSLOs groups SLOs by the CR UID they are tagged with, oldest first; SLOs without one are
// left out.
func GroupSLOs(slos []datadogV1.ServiceLevelObjective) map[string][]datadogV1.ServiceLevelObjective {
	out := map[string][]datadogV1.ServiceLevelObjective{}
	for _, s := range slos {
		if uid := TagValue(s.GetTags(), TagUIDPrefix); uid != "" {
			out[uid] = append(out[uid], s)
		}
	}
	for _, list := range out {
		slices.SortFunc(list, func(a, b datadogV1.ServiceLevelObjective) int {
			if c := cmp.Compare(a.GetCreatedAt(), b.GetCreatedAt()); c != 0 {
				return c
			}
			return cmp.Compare(a.GetId(), b.GetId())
		})
	}
	return out
}

// GroupMonitors groups monitors by CR UID and tier, oldest (lowest ID) first; monitors without
// both tags are left out.
func GroupMonitors(monitors []datadogV1.Monitor) map[string]map[string][]datadogV1.Monitor {
	out := map[string]map[string][]datadogV1.Monitor{}
	for _, m := range monitors {
		uid, tier := TagValue(m.GetTags(), TagUIDPrefix), TagValue(m.GetTags(), TagTierPrefix)
		if uid == "" || tier == "" {
			continue
		}
		if out[uid] == nil {
			out[uid] = map[string][]datadogV1.Monitor{}
		}
		out[uid][tier] = append(out[uid][tier], m)
	}
	for _, tiers := range out {
		for _, list := range tiers {
			slices.SortFunc(list, func(a, b datadogV1.Monitor) int { return cmp.Compare(a.GetId(), b.GetId()) })
		}
	}
	return out
}

// record applies a write to the inventory and journals it; settles marks a create or a
// deletion. Callers hold inv.mu.
func (inv *Inventory) record(settles bool, op func()) {
	op()
	inv.journal = append(inv.journal, journalEntry{at: time.Now(), settles: settles, apply: op})
}

// Synced is when the inventory was last refreshed; zero before the first refresh.
func (inv *Inventory) Synced() time.Time {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.synced
}

// SLOs returns every SLO carrying a CR's tag, oldest first: more than one is a duplicate.
func (inv *Inventory) SLOs(uid string) []datadogV1.ServiceLevelObjective {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return slices.Clone(inv.slos[uid])
}

// AllMonitors returns every monitor carrying a CR's tag, by tier, oldest first.
func (inv *Inventory) AllMonitors(uid string) map[string][]datadogV1.Monitor {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := make(map[string][]datadogV1.Monitor, len(inv.monitors[uid]))
	for tier, list := range inv.monitors[uid] {
		out[tier] = slices.Clone(list)
	}
	return out
}

// Status returns an SLO's error budget per timeframe.
func (inv *Inventory) Status(sloID string) []SLOStatus {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.status[sloID]
}

// AddSLO records the SLO the operator created for a CR.
func (inv *Inventory) AddSLO(uid string, s datadogV1.ServiceLevelObjective) { inv.putSLO(true, uid, s) }

// PutSLO records the SLO the operator adopted, confirmed or updated for a CR, first among any
// duplicates still known.
func (inv *Inventory) PutSLO(uid string, s datadogV1.ServiceLevelObjective) {
	inv.putSLO(false, uid, s)
}

func (inv *Inventory) putSLO(created bool, uid string, s datadogV1.ServiceLevelObjective) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(created, func() {
		same := func(o datadogV1.ServiceLevelObjective) bool { return o.GetId() == s.GetId() }
		if created && slices.ContainsFunc(inv.slos[uid], same) {
			return // listed since: the list says how it is now
		}
		rest := slices.DeleteFunc(slices.Clone(inv.slos[uid]), same)
		inv.slos[uid] = append([]datadogV1.ServiceLevelObjective{s}, rest...)
	})
}

// DropSLO forgets one SLO of a CR (a duplicate deleted).
func (inv *Inventory) DropSLO(uid, id string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(true, func() {
		inv.slos[uid] = slices.DeleteFunc(inv.slos[uid], func(o datadogV1.ServiceLevelObjective) bool { return o.GetId() == id })
		if len(inv.slos[uid]) == 0 {
			delete(inv.slos, uid)
		}
	})
}

// RemoveSLO forgets a CR's SLOs.
func (inv *Inventory) RemoveSLO(uid string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(true, func() { delete(inv.slos, uid) })
}

// AddMonitor records the monitor the operator created for a CR's tier.
func (inv *Inventory) AddMonitor(uid, tier string, m datadogV1.Monitor) {
	inv.putMonitor(true, uid, tier, m)
}

// PutMonitor records the monitor the operator adopted, confirmed or updated for a CR's tier,
// first among any duplicates still known.
func (inv *Inventory) PutMonitor(uid, tier string, m datadogV1.Monitor) {
	inv.putMonitor(false, uid, tier, m)
}

func (inv *Inventory) putMonitor(created bool, uid, tier string, m datadogV1.Monitor) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(created, func() {
		if inv.monitors[uid] == nil {
			inv.monitors[uid] = map[string][]datadogV1.Monitor{}
		}
		same := func(o datadogV1.Monitor) bool { return o.GetId() == m.GetId() }
		if created && slices.ContainsFunc(inv.monitors[uid][tier], same) {
			return // listed since: the list says how it is now
		}
		rest := slices.DeleteFunc(slices.Clone(inv.monitors[uid][tier]), same)
		inv.monitors[uid][tier] = append([]datadogV1.Monitor{m}, rest...)
	})
}

// DropMonitor forgets one monitor of a CR's tier (a duplicate deleted).
func (inv *Inventory) DropMonitor(uid, tier string, id int64) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(true, func() {
		if inv.monitors[uid] == nil {
			return
		}
		inv.monitors[uid][tier] = slices.DeleteFunc(inv.monitors[uid][tier], func(o datadogV1.Monitor) bool { return o.GetId() == id })
		if len(inv.monitors[uid][tier]) == 0 {
			delete(inv.monitors[uid], tier)
		}
	})
}

// RemoveMonitor forgets one of a CR's tiers, duplicates included.
func (inv *Inventory) RemoveMonitor(uid, tier string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(true, func() { delete(inv.monitors[uid], tier) })
}

// TagValue is the value of the first tag with the prefix, compared without regard to case
// (Datadog stores tags lower case); "" when there is none.
func TagValue(tags []string, prefix string) string {
	for _, t := range tags {
		if len(t) >= len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
			return t[len(prefix):]
		}
	}
	return ""
}

// Owners returns the UIDs of the CRs whose monitors carry every one of tags.
func (inv *Inventory) Owners(tags ...string) []string {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var out []string
	for uid, tiers := range inv.monitors {
		for _, list := range tiers {
			if len(list) > 0 && hasAll(list[0].Tags, tags) {
				out = append(out, uid)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// hasAll says whether have holds every tag of want, compared without regard to case.
func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(t string) bool { return strings.EqualFold(t, w) }) {
			return false
		}
	}
	return true
}

// DashboardsErr is why the last refresh could not list the dashboards (their list stays as
// the refresh before left it), nil when it could.
func (inv *Inventory) DashboardsErr() error {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.dashboardsErr
}

// Dashboards returns the dashboards of a Team, oldest first: more than one is a duplicate.
func (inv *Inventory) Dashboards(uid string) []datadogV1.DashboardSummaryDefinition {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return slices.Clone(inv.dashboards[uid])
}

// AddDashboard records the dashboard the operator created for a Team.
func (inv *Inventory) AddDashboard(uid string, d datadogV1.DashboardSummaryDefinition) {
	inv.putDashboard(true, uid, d)
}

// PutDashboard records the dashboard the operator adopted, confirmed or updated for a Team.
func (inv *Inventory) PutDashboard(uid string, d datadogV1.DashboardSummaryDefinition) {
	inv.putDashboard(false, uid, d)
}

func (inv *Inventory) putDashboard(created bool, uid string, d datadogV1.DashboardSummaryDefinition) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(created, func() {
		same := func(o datadogV1.DashboardSummaryDefinition) bool { return o.GetId() == d.GetId() }
		if created && slices.ContainsFunc(inv.dashboards[uid], same) {
			return
		}
		rest := slices.DeleteFunc(slices.Clone(inv.dashboards[uid]), same)
		inv.dashboards[uid] = append([]datadogV1.DashboardSummaryDefinition{d}, rest...)
	})
}

// DropDashboard forgets one dashboard of a Team (a duplicate deleted).
func (inv *Inventory) DropDashboard(uid, id string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(true, func() {
		inv.dashboards[uid] = slices.DeleteFunc(inv.dashboards[uid], func(o datadogV1.DashboardSummaryDefinition) bool { return o.GetId() == id })
	})
}

// RemoveDashboards forgets a Team's dashboards.
func (inv *Inventory) RemoveDashboards(uid string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(true, func() { delete(inv.dashboards, uid) })
}
