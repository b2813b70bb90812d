package gke_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	container "google.golang.org/api/container/v1"
	"google.golang.org/api/googleapi"

	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/internal/schedule"
	"github.com/selfserve-dev/selfserve/test/gkefake"
)

func TestSyncThroughTheContainerClient(t *testing.T) {
	ctx := context.Background()
	name := gke.ClusterName("acme-prod-4711", "europe-west1", "shared-prod")
	c, fake := clientOf(t, name)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	windows := []schedule.Window{{Name: "w", Recur: schedule.Recurrence{Days: []schedule.DaySpec{{Day: time.Tuesday}, {Day: time.Wednesday}, {Day: time.Thursday}}}, Hour: 5, Duration: 4 * time.Hour, Location: berlin}}
	exclusions := []schedule.Exclusion{{Name: "year-end", Start: time.Date(2026, 12, 18, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC), Scope: schedule.NoMinorUpgrades}}
	desired := func(now time.Time, gate *gke.Gate) gke.Result {
		t.Helper()
		w, err := gke.DesiredWindow(windows, now)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Sync(ctx, name, w, gke.DesiredExclusions(exclusions, gate, now))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	winter := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

	t.Run("first sync sets the policy", func(t *testing.T) {
		if res := desired(winter, nil); !res.Changed {
			t.Error("nothing was set")
		}
		p := fake.Policy(name)
		if p.Window.RecurringWindow.Recurrence != "FREQ=WEEKLY;BYDAY=TH,TU,WE" || p.Window.RecurringWindow.Window.StartTime != "2026-12-01T04:00:00Z" {
			t.Errorf("window %+v", p.Window.RecurringWindow)
		}
		if p.Window.MaintenanceExclusions["selfserve-year-end"].MaintenanceExclusionOptions.Scope != "NO_MINOR_UPGRADES" {
			t.Errorf("exclusions %+v", p.Window.MaintenanceExclusions)
		}
	})
	t.Run("a matching policy is only read", func(t *testing.T) {
		gets, sets := fake.Calls()
		// A week later the next occurrence's date moved; the time of day did not.
		if res := desired(winter.Add(7*24*time.Hour), nil); res.Changed {
			t.Error("an unchanged policy was set again")
		}
		g2, s2 := fake.Calls()
		if g2-gets != 1 || s2 != sets {
			t.Errorf("%d gets and %d sets for an unchanged policy, want 1 and 0", g2-gets, s2-sets)
		}
	})
	t.Run("a conflict is read again and retried", func(t *testing.T) {
		fake.ConflictNext(1)
		if res := desired(winter, &gke.Gate{Scope: schedule.NoUpgrades, Until: winter.Add(48 * time.Hour)}); !res.Changed {
			t.Error("the gate exclusion was not set")
		}
		if _, ok := fake.Policy(name).Window.MaintenanceExclusions[gke.GateExclusionName]; !ok {
			t.Error("no gate exclusion after the retry")
		}
	})
	t.Run("the gate exclusion goes when the gate clears", func(t *testing.T) {
		desired(winter, nil)
		if _, ok := fake.Policy(name).Window.MaintenanceExclusions[gke.GateExclusionName]; ok {
			t.Error("the gate exclusion stayed")
		}
	})
	t.Run("DST moves the UTC start: set again", func(t *testing.T) {
		if res := desired(time.Date(2027, 4, 5, 12, 0, 0, 0, time.UTC), nil); !res.Changed {
			t.Error("the summer-time window was not set")
		}
		if got := fake.Policy(name).Window.RecurringWindow.Window.StartTime; got != "2027-04-06T03:00:00Z" {
			t.Errorf("start %s, want 03:00 UTC (05:00 CEST)", got)
		}
	})
}

// TestFakeRefusesWhatGKERefuses: the GKE fake answers 400 to the exclusions GKE does not take, so
// a test that sends one sees it fail as it would against GKE.
func TestFakeRefusesWhatGKERefuses(t *testing.T) {
	ctx := context.Background()
	name := gke.ClusterName("acme-prod-4711", "europe-west1", "limits")
	c, _ := clientOf(t, name)
	// Always open: a 30-day NO_UPGRADES exclusion leaves the 48 hours GKE wants in any 32 days.
	window := &container.RecurringTimeWindow{Window: &container.TimeWindow{StartTime: "2026-12-01T00:00:00Z", EndTime: "2026-12-02T00:00:00Z"}, Recurrence: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU"}
	exclusion := func(days int, scope string) container.TimeWindow {
		start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		return container.TimeWindow{StartTime: start.Format(time.RFC3339), EndTime: start.Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339),
			MaintenanceExclusionOptions: &container.MaintenanceExclusionOptions{Scope: scope}}
	}
	many := map[string]container.TimeWindow{}
	for i := range 21 {
		many[gke.ExclusionName(fmt.Sprintf("e%d", i))] = exclusion(1, "NO_UPGRADES")
	}
	// A 30-day NO_UPGRADES exclusion is as long as GKE takes, though it leaves less than 48 hours
	// in some 32 days (the 4 hours a stretch must have are cut at a period's edge): refused for
	// that, not for its length.
	for name, tt := range map[string]struct {
		exclusions map[string]container.TimeWindow
		refusal    string // empty: accepted
	}{
		"NO_UPGRADES for 29 days":        {map[string]container.TimeWindow{gke.ExclusionName("x"): exclusion(29, "NO_UPGRADES")}, ""},
		"NO_UPGRADES for 30 days":        {map[string]container.TimeWindow{gke.ExclusionName("x"): exclusion(30, "NO_UPGRADES")}, "48 hours"},
		"NO_UPGRADES for 31 days":        {map[string]container.TimeWindow{gke.ExclusionName("x"): exclusion(31, "NO_UPGRADES")}, "longer than 30 days"},
		"NO_MINOR_UPGRADES for 180 days": {map[string]container.TimeWindow{gke.ExclusionName("x"): exclusion(180, "NO_MINOR_UPGRADES")}, ""},
		"NO_MINOR_UPGRADES for 181 days": {map[string]container.TimeWindow{gke.ExclusionName("x"): exclusion(181, "NO_MINOR_UPGRADES")}, "longer than 180 days"},
		"21 exclusions":                  {many, "at most 20"}, // refused by the client already, before sending
	} {
		_, err := c.Sync(ctx, gke.ClusterName("acme-prod-4711", "europe-west1", "limits"), window, tt.exclusions)
		var gerr *googleapi.Error
		if tt.refusal == "" && err != nil || tt.refusal != "" && (err == nil || !strings.Contains(err.Error(), tt.refusal)) {
			t.Errorf("%s: %v, want refused for %q", name, err, tt.refusal)
		}
		if tt.refusal != "" && len(tt.exclusions) <= gke.MaxExclusions && (!errors.As(err, &gerr) || gerr.Code != http.StatusBadRequest) {
			t.Errorf("%s: %v, want GKE's 400", name, err)
		}
	}
}

// TestSyncKeepsWhatSelfserveDoesNotOwn: GKE clears a field setMaintenancePolicy leaves empty.
// A disruption budget someone set is sent back as it was; a window of another kind (set with
// gcloud's newer flags) is replaced, since the window is selfserve's.
func TestSyncKeepsWhatSelfserveDoesNotOwn(t *testing.T) {
	ctx := context.Background()
	name := gke.ClusterName("acme-prod-4711", "europe-west1", "budgeted")
	c, fake := clientOf(t, name)
	fake.SetPolicy(name, &container.MaintenancePolicy{
		DisruptionBudget: &container.DisruptionBudget{MinorVersionDisruptionInterval: "2592000s", PatchVersionDisruptionInterval: "604800s"},
		Window:           &container.MaintenanceWindow{DailyMaintenanceWindow: &container.DailyMaintenanceWindow{StartTime: "03:00"}},
	})
	window := &container.RecurringTimeWindow{Window: &container.TimeWindow{StartTime: "2026-12-01T04:00:00Z", EndTime: "2026-12-01T08:00:00Z"}, Recurrence: "FREQ=WEEKLY;BYDAY=TU,WE,TH"}
	res, err := c.Sync(ctx, name, window, nil)
	if err != nil || !res.Changed {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	p := fake.Policy(name)
	if b := p.DisruptionBudget; b == nil || b.MinorVersionDisruptionInterval != "2592000s" || b.PatchVersionDisruptionInterval != "604800s" {
		t.Errorf("the disruption budget was not kept: %+v", b)
	}
	if p.Window.DailyMaintenanceWindow != nil || p.Window.RecurringWindow == nil || p.Window.RecurringWindow.Recurrence != window.Recurrence {
		t.Errorf("window %+v: want selfserve's recurring window only", p.Window)
	}
	if res, err := c.Sync(ctx, name, window, nil); err != nil || res.Changed {
		t.Errorf("a second sync changed something: %+v, %v", res, err)
	}
}

// TestSyncKeepsExclusionsSelfserveDidNotMake: an on-call SRE's freeze set with gcloud (even
// one named like a policy's exclusion but with other times) is kept through every sync and
// reported; an exclusion an older selfserve sent under the policy's own name is replaced by the
// prefixed one; one of selfserve's that the policy no longer has goes; and GKE's limit counts
// the foreign ones.
func TestSyncKeepsExclusionsSelfserveDidNotMake(t *testing.T) {
	ctx := context.Background()
	name := gke.ClusterName("acme-prod-4711", "europe-west1", "shared")
	c, fake := clientOf(t, name)
	tw := func(start, end, scope string) container.TimeWindow {
		return container.TimeWindow{StartTime: start, EndTime: end, MaintenanceExclusionOptions: &container.MaintenanceExclusionOptions{Scope: scope}}
	}
	yearEnd := tw("2026-12-18T00:00:00Z", "2027-01-04T00:00:00Z", "NO_MINOR_UPGRADES")
	freeze := tw("2026-12-01T00:00:00Z", "2026-12-21T00:00:00Z", "NO_UPGRADES")
	fake.SetPolicy(name, &container.MaintenancePolicy{Window: &container.MaintenanceWindow{MaintenanceExclusions: map[string]container.TimeWindow{
		"oncall-freeze": freeze,
		"year-end":      yearEnd,                                                           // sent by an older selfserve
		"release":       tw("2027-02-01T00:00:00Z", "2027-02-03T00:00:00Z", "NO_UPGRADES"), // an SRE's, same name as none of ours
		"selfserve-old": tw("2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z", "NO_UPGRADES"), // ours, gone from the policy
	}}})
	window := &container.RecurringTimeWindow{Window: &container.TimeWindow{StartTime: "2026-12-01T04:00:00Z", EndTime: "2026-12-01T12:00:00Z"}, Recurrence: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU"}
	want := map[string]container.TimeWindow{gke.ExclusionName("year-end"): yearEnd}
	for i := range 10 {
		res, err := c.Sync(ctx, name, window, want)
		if err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		if res.Changed != (i == 0) {
			t.Errorf("sync %d changed: %t", i, res.Changed)
		}
		if fmt.Sprint(res.Foreign) != "[oncall-freeze release]" {
			t.Errorf("sync %d: foreign %v", i, res.Foreign)
		}
		got := fake.Policy(name).Window.MaintenanceExclusions
		if len(got) != 3 || got["oncall-freeze"].EndTime != freeze.EndTime || got[gke.ExclusionName("year-end")].EndTime != yearEnd.EndTime || got["release"].EndTime != "2027-02-03T00:00:00Z" {
			t.Fatalf("sync %d: GKE holds %v", i, got)
		}
	}

	// 19 exclusions of the SREs' and 2 of the policy's are more than GKE keeps: not sent.
	many := map[string]container.TimeWindow{}
	for i := range 19 {
		many[fmt.Sprintf("sre-%02d", i)] = freeze
	}
	fake.SetPolicy(name, &container.MaintenancePolicy{Window: &container.MaintenanceWindow{MaintenanceExclusions: many}})
	_, sets := fake.Calls()
	want[gke.GateExclusionName] = freeze
	if _, err := c.Sync(ctx, name, window, want); err == nil || !strings.Contains(err.Error(), "19 made outside selfserve") {
		t.Errorf("over GKE's limit: %v", err)
	}
	if _, s := fake.Calls(); s != sets {
		t.Error("a policy over GKE's limit was sent")
	}

	// An SRE's NoUpgrades freeze of 29 days leaves a daily 8-hour window 24 hours in the next 32
	// days: GKE would refuse the policy, so it is not sent, and the error names the freeze.
	now := time.Now().UTC().Truncate(time.Hour)
	long := tw(now.Add(-24*time.Hour).Format(time.RFC3339), now.Add(28*24*time.Hour).Format(time.RFC3339), "NO_UPGRADES")
	fake.SetPolicy(name, &container.MaintenancePolicy{Window: &container.MaintenanceWindow{MaintenanceExclusions: map[string]container.TimeWindow{"oncall-long": long}}})
	_, sets = fake.Calls()
	if _, err := c.Sync(ctx, name, window, nil); err == nil || !strings.Contains(err.Error(), "outside selfserve (oncall-long)") || !strings.Contains(err.Error(), "48h0m0s") {
		t.Errorf("a foreign freeze that leaves too little: %v", err)
	}
	if _, s := fake.Calls(); s != sets {
		t.Error("a policy GKE would refuse was sent")
	}
}

// clientOf is a client of a GKE fake holding the cluster; the fake stops with the test.
func clientOf(t *testing.T, cluster string) (*gke.Client, *gkefake.Server) {
	t.Helper()
	fake := gkefake.New(cluster)
	srv := fake.Start()
	t.Cleanup(srv.Close)
	c, err := gke.NewClient(context.Background(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}
