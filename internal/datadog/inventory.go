package datadog

import (
	"context"
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
type Inventory struct {
	mu sync.RWMutex
	// journal holds the writes made while a refresh is reading Datadog: the refresh's lists may
	// predate them, so they are applied again on top of its result, or an object just created
	// would vanish from the inventory and be created a second time.
	refreshing int
	journal    []func()
	slos       map[string]datadogV1.ServiceLevelObjective // by CR UID
	monitors   map[string]map[string]datadogV1.Monitor    // by CR UID, then tier
	status     map[string][]SLOStatus                     // by SLO ID
	synced     time.Time
}

// NewInventory returns an inventory that has not been refreshed yet.
func NewInventory() *Inventory {
	return &Inventory{slos: map[string]datadogV1.ServiceLevelObjective{}, monitors: map[string]map[string]datadogV1.Monitor{}, status: map[string][]SLOStatus{}}
}

// Refresh reads every managed SLO and monitor and the SLOs' error budgets: three paginated
// calls for all ServiceSLOs.
func (inv *Inventory) Refresh(ctx context.Context, c *Client, now time.Time) error {
	inv.mu.Lock()
	inv.refreshing++
	inv.mu.Unlock()
	defer func() {
		inv.mu.Lock()
		if inv.refreshing--; inv.refreshing == 0 {
			inv.journal = nil
		}
		inv.mu.Unlock()
	}()
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
	bySLO := map[string]datadogV1.ServiceLevelObjective{}
	for _, s := range slos {
		uid := tagValue(s.GetTags(), TagUIDPrefix)
		if uid == "" {
			continue
		}
		// Two SLOs with one CR's tag cannot come from the operator; keep the oldest, as the
		// one the CR's status most likely names.
		if prev, ok := bySLO[uid]; ok && prev.GetCreatedAt() <= s.GetCreatedAt() {
			continue
		}
		bySLO[uid] = s
	}
	byMon := map[string]map[string]datadogV1.Monitor{}
	for _, m := range monitors {
		uid, tier := tagValue(m.GetTags(), TagUIDPrefix), tagValue(m.GetTags(), TagTierPrefix)
		if uid == "" || tier == "" {
			continue
		}
		if byMon[uid] == nil {
			byMon[uid] = map[string]datadogV1.Monitor{}
		}
		if prev, ok := byMon[uid][tier]; ok && prev.GetId() <= m.GetId() {
			continue
		}
		byMon[uid][tier] = m
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.slos, inv.monitors, inv.status, inv.synced = bySLO, byMon, status, now
	for _, replay := range inv.journal {
		replay()
	}
	return nil
}

// record applies a write to the inventory, and journals it while a refresh runs. Callers hold
// inv.mu.
func (inv *Inventory) record(op func()) {
	op()
	if inv.refreshing > 0 {
		inv.journal = append(inv.journal, op)
	}
}

// Synced is when the inventory was last refreshed; zero before the first refresh.
func (inv *Inventory) Synced() time.Time {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.synced
}

// SLO returns the SLO of a CR.
func (inv *Inventory) SLO(uid string) (datadogV1.ServiceLevelObjective, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	s, ok := inv.slos[uid]
	return s, ok
}

// Monitors returns a CR's monitors by tier.
func (inv *Inventory) Monitors(uid string) map[string]datadogV1.Monitor {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := make(map[string]datadogV1.Monitor, len(inv.monitors[uid]))
	for k, v := range inv.monitors[uid] {
		out[k] = v
	}
	return out
}

// Status returns an SLO's error budget per timeframe.
func (inv *Inventory) Status(sloID string) []SLOStatus {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.status[sloID]
}

// PutSLO records an SLO the operator created, adopted or updated.
func (inv *Inventory) PutSLO(uid string, s datadogV1.ServiceLevelObjective) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(func() { inv.slos[uid] = s })
}

// RemoveSLO forgets a CR's SLO.
func (inv *Inventory) RemoveSLO(uid string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(func() { delete(inv.slos, uid) })
}

// PutMonitor records a monitor the operator created or updated.
func (inv *Inventory) PutMonitor(uid, tier string, m datadogV1.Monitor) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(func() {
		if inv.monitors[uid] == nil {
			inv.monitors[uid] = map[string]datadogV1.Monitor{}
		}
		inv.monitors[uid][tier] = m
	})
}

// RemoveMonitor forgets one of a CR's monitors.
func (inv *Inventory) RemoveMonitor(uid, tier string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.record(func() { delete(inv.monitors[uid], tier) })
}

func tagValue(tags []string, prefix string) string {
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, prefix); ok {
			return v
		}
	}
	return ""
}
