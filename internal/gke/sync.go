package gke

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	container "google.golang.org/api/container/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/selfserve-dev/selfserve/internal/schedule"
)

// Client reads and sets GKE clusters' maintenance policies.
type Client struct {
	svc *container.Service
}

// NewClient returns a client using Application Default Credentials (Workload Identity in GKE),
// or, with an endpoint override (a fake, a proxy), no authentication.
func NewClient(ctx context.Context, endpoint string) (*Client, error) {
	var opts []option.ClientOption
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint), option.WithoutAuthentication())
	}
	svc, err := container.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("GKE client: %w", err)
	}
	return &Client{svc: svc}, nil
}

// Lazy returns a factory that creates the client the first time a policy needs it (a cluster
// without a GKE policy never looks for credentials), and keeps it.
func Lazy(endpoint string) func(context.Context) (*Client, error) {
	var (
		mu sync.Mutex
		c  *Client
	)
	return func(ctx context.Context) (*Client, error) {
		mu.Lock()
		defer mu.Unlock()
		if c != nil {
			return c, nil
		}
		var err error
		c, err = NewClient(ctx, endpoint)
		return c, err
	}
}

// ClusterName is the API name of a cluster.
func ClusterName(project, location, cluster string) string {
	return fmt.Sprintf("projects/%s/locations/%s/clusters/%s", project, location, cluster)
}

// Result is what a sync did.
type Result struct {
	Changed         bool
	ResourceVersion string
	// Foreign are the names of the exclusions the cluster has that selfserve did not make,
	// kept as they are.
	Foreign []string
}

// Sync reads the cluster's maintenance policy and, when it differs from the desired window and
// exclusions, sets it with the resourceVersion it read; a conflict (someone set it meanwhile)
// is read and retried, up to three times. A policy that already matches costs one read.
func (c *Client) Sync(ctx context.Context, name string, window *container.RecurringTimeWindow, exclusions map[string]container.TimeWindow) (Result, error) {
	for attempt := 1; ; attempt++ {
		cluster, err := c.svc.Projects.Locations.Clusters.Get(name).Context(ctx).Do()
		if err != nil {
			return Result{}, fmt.Errorf("reading %s: %w", name, err)
		}
		observed := cluster.MaintenancePolicy
		if observed == nil {
			observed = &container.MaintenancePolicy{}
		}
		owned, foreign, legacy := splitExclusions(observed.Window, exclusions)
		names := slices.Sorted(maps.Keys(foreign))
		if len(foreign)+len(exclusions) > MaxExclusions {
			return Result{Foreign: names}, fmt.Errorf("GKE keeps at most %d exclusions on a cluster; %s has %d made outside selfserve (%s) and the policy needs %d: remove some",
				MaxExclusions, name, len(foreign), strings.Join(names, ", "), len(exclusions))
		}
		if sameWindow(observed.Window, window) && sameExclusions(owned, exclusions) && !legacy {
			return Result{ResourceVersion: observed.ResourceVersion, Foreign: names}, nil
		}
		merged := maps.Clone(foreign) // never nil: splitExclusions makes it
		maps.Copy(merged, exclusions)
		if len(foreign) > 0 && window != nil {
			// The policy's own exclusions passed the check before; the SREs' may take the rest.
			// At the wall clock's now, as GKE checks what it is sent.
			if err := CheckAvailability(window, blockingExclusions(merged), time.Now()); err != nil {
				return Result{Foreign: names}, fmt.Errorf("GKE would refuse the maintenance policy of %s with the exclusions made outside selfserve (%s): %w",
					name, strings.Join(names, ", "), err)
			}
		}
		desired := ownedReplaced(observed, window, merged)
		_, err = c.svc.Projects.Locations.Clusters.SetMaintenancePolicy(name, &container.SetMaintenancePolicyRequest{MaintenancePolicy: desired}).Context(ctx).Do()
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && (gerr.Code == http.StatusConflict || gerr.Code == http.StatusPreconditionFailed) && attempt < 3 {
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("setting the maintenance policy of %s: %w", name, err)
		}
		return Result{Changed: true, Foreign: names}, nil
	}
}

// splitExclusions sorts the cluster's exclusions into selfserve's (named with ExclusionPrefix)
// and the others, which are kept. An exclusion named as one of the policy's, with the same
// times and scope, was sent by a selfserve that did not prefix its names yet: it is replaced
// by the prefixed one (legacy reports that one is there), not kept twice.
func splitExclusions(observed *container.MaintenanceWindow, want map[string]container.TimeWindow) (owned, foreign map[string]container.TimeWindow, legacy bool) {
	owned, foreign = map[string]container.TimeWindow{}, map[string]container.TimeWindow{}
	if observed == nil {
		return owned, foreign, false
	}
	for name, w := range observed.MaintenanceExclusions {
		switch ours, ok := want[ExclusionName(name)]; {
		case strings.HasPrefix(name, ExclusionPrefix):
			owned[name] = w
		case ok && sameTimeWindow(w, ours):
			legacy = true
		default:
			foreign[name] = w
		}
	}
	return owned, foreign, legacy
}

// blockingExclusions are the NO_UPGRADES exclusions among GKE's, which take availability away.
func blockingExclusions(m map[string]container.TimeWindow) []schedule.Exclusion {
	var out []schedule.Exclusion
	for name, w := range m {
		start, err1 := time.Parse(time.RFC3339, w.StartTime)
		end, err2 := time.Parse(time.RFC3339, w.EndTime)
		if s := scopeOf(w); err1 != nil || err2 != nil || s != "" && s != gkeScopes[schedule.NoUpgrades] {
			continue
		}
		out = append(out, schedule.Exclusion{Name: name, Start: start, End: end, Scope: schedule.NoUpgrades})
	}
	return out
}

func sameTimeWindow(a, b container.TimeWindow) bool {
	return a.StartTime == b.StartTime && a.EndTime == b.EndTime && scopeOf(a) == scopeOf(b)
}

// ownedReplaced is the observed policy with what selfserve owns replaced: the maintenance window
// (its recurring window, and no other kind of window) and the exclusions, which the caller
// gives with the ones selfserve did not make merged in. Everything else GKE
// returned — the disruption budget, the resourceVersion — is sent back as it was, because GKE
// clears a field that setMaintenancePolicy leaves empty. (Fields newer than the pinned
// container/v1 client are not known to it and cannot be carried; updating the module carries
// them.)
func ownedReplaced(observed *container.MaintenancePolicy, window *container.RecurringTimeWindow, exclusions map[string]container.TimeWindow) *container.MaintenancePolicy {
	desired := *observed
	w := container.MaintenanceWindow{}
	if observed.Window != nil {
		w = *observed.Window
	}
	w.RecurringWindow, w.MaintenanceExclusions = window, exclusions
	w.DailyMaintenanceWindow, w.RecurringMaintenanceWindow = nil, nil
	desired.Window = &w
	return &desired
}

// sameWindow compares what matters of the recurring window: the recurrence, and the start's
// UTC time of day and the duration. The start's date moves with every occurrence and is not a
// difference; a time of day that moved (DST) is.
func sameWindow(observed *container.MaintenanceWindow, want *container.RecurringTimeWindow) bool {
	var got *container.RecurringTimeWindow
	if observed != nil {
		if observed.DailyMaintenanceWindow != nil || observed.RecurringMaintenanceWindow != nil {
			return false // a window of another kind, set outside selfserve: replaced
		}
		got = observed.RecurringWindow
	}
	if got == nil || want == nil || got.Window == nil || want.Window == nil {
		return got == nil && want == nil
	}
	gs, err1 := time.Parse(time.RFC3339, got.Window.StartTime)
	ge, err2 := time.Parse(time.RFC3339, got.Window.EndTime)
	ws, err3 := time.Parse(time.RFC3339, want.Window.StartTime)
	we, err4 := time.Parse(time.RFC3339, want.Window.EndTime)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return false
	}
	return got.Recurrence == want.Recurrence && gs.UTC().Format("15:04") == ws.UTC().Format("15:04") && ge.Sub(gs) == we.Sub(ws)
}

func sameExclusions(got, want map[string]container.TimeWindow) bool {
	if len(got) != len(want) {
		return false
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || !sameTimeWindow(g, w) {
			return false
		}
	}
	return true
}

func scopeOf(w container.TimeWindow) string {
	if w.MaintenanceExclusionOptions == nil {
		return ""
	}
	return w.MaintenanceExclusionOptions.Scope
}
