package datadog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
)

// seed creates n managed SLOs, each with one monitor.
func seed(t *testing.T, c *datadog.Client, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		req := datadogV1.NewServiceLevelObjectiveRequest(fmt.Sprintf("slo %d", i), []datadogV1.SLOThreshold{{Timeframe: datadogV1.SLOTIMEFRAME_THIRTY_DAYS, Target: 99.9}}, datadogV1.SLOTYPE_METRIC)
		req.SetQuery(datadogV1.ServiceLevelObjectiveQuery{Numerator: "sum:ok{*}.as_count()", Denominator: "sum:all{*}.as_count()"})
		req.SetTags([]string{datadog.TagManaged})
		if _, err := c.CreateSLO(ctx, *req); err != nil {
			t.Fatal(err)
		}
		m := datadogV1.NewMonitor("avg(last_5m):avg:system.load.1{*} > 10", datadogV1.MONITORTYPE_METRIC_ALERT)
		m.SetName(fmt.Sprintf("load %d", i))
		m.SetTags([]string{datadog.TagManaged})
		if _, err := c.CreateMonitor(ctx, *m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPagingReadsEverythingWhenPagesAreSmallerThanAsked: a server with its own, smaller page
// size answers every read with short pages, and its SLO list reports the page size asked for
// as total_filtered_count (20 of 50, as Datadog does); every object is still read, and each
// read ends on its first empty page.
func TestPagingReadsEverythingWhenPagesAreSmallerThanAsked(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{PageSize: 7})
	c := client(t, fake)
	c.PageSize = 20
	seed(t, c, 50)
	ctx := context.Background()
	slos, err := c.ListSLOs(ctx, datadog.TagManaged)
	if err != nil || len(slos) != 50 {
		t.Errorf("SLO list: %d SLOs (%v), want 50", len(slos), err)
	}
	monitors, err := c.ListMonitors(ctx, []string{datadog.TagManaged})
	if err != nil || len(monitors) != 50 {
		t.Errorf("monitor list: %d monitors (%v), want 50", len(monitors), err)
	}
	status, err := c.SearchSLOStatus(ctx, datadog.TagManaged)
	if err != nil || len(status) != 50 {
		t.Errorf("SLO search: %d SLOs (%v), want 50", len(status), err)
	}
	// 50 in pages of 7: 8 pages each, and one more, empty.
	for route, want := range map[string]int{"GET /api/v1/slo": 9, "GET /api/v1/monitor": 9, "GET /api/v1/slo/search": 9} {
		if got := fake.Requests()[route]; got != want {
			t.Errorf("%s: %d calls, want %d", route, got, want)
		}
	}
}

// TestPagingGivesUpWhenPagesDoNotMove: a server that answers every page as the first one
// makes every read fail after a bounded number of calls, each repeat counted, instead of a
// read that never ends or one that ends short (which would make objects look missing).
func TestPagingGivesUpWhenPagesDoNotMove(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{PageSize: 5, RepeatPages: true})
	c := client(t, fake)
	c.PageSize = 5
	seed(t, c, 12)
	ctx := context.Background()
	before := repeated(t)
	if _, err := c.ListSLOs(ctx, datadog.TagManaged); !datadog.IsKind(err, datadog.KindRetryable) {
		t.Errorf("SLO list: %v, want a retryable error", err)
	}
	if _, err := c.ListMonitors(ctx, []string{datadog.TagManaged}); !datadog.IsKind(err, datadog.KindRetryable) {
		t.Errorf("monitor list: %v, want a retryable error", err)
	}
	if _, err := c.SearchSLOStatus(ctx, datadog.TagManaged); !datadog.IsKind(err, datadog.KindRetryable) {
		t.Errorf("SLO search: %v, want a retryable error", err)
	}
	for _, route := range []string{"GET /api/v1/slo", "GET /api/v1/monitor", "GET /api/v1/slo/search"} {
		if got := fake.Requests()[route]; got != 7 {
			t.Errorf("%s: %d calls for pages that never move; want 7 (the first, then 6 repeats)", route, got)
		}
	}
	if got := repeated(t) - before; got != 18 {
		t.Errorf("selfserve_datadog_repeated_pages_total rose by %v, want 18", got)
	}
}

// TestPagingReadsEverythingWhenPagesRepeat: 30 % of page reads answer the page before; every
// read still returns every object, asking each repeated page again, at the cost of the
// repeats only.
func TestPagingReadsEverythingWhenPagesRepeat(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{PageSize: 7, RepeatPageRate: 0.3, Seed: 7})
	c := client(t, fake)
	c.PageSize = 20
	seed(t, c, 50)
	ctx := context.Background()
	before := repeated(t)
	const reads = 20
	for range reads {
		slos, err := c.ListSLOs(ctx, datadog.TagManaged)
		if err != nil || len(slos) != 50 {
			t.Fatalf("SLO list: %d SLOs (%v), want 50", len(slos), err)
		}
		monitors, err := c.ListMonitors(ctx, []string{datadog.TagManaged})
		if err != nil || len(monitors) != 50 {
			t.Fatalf("monitor list: %d monitors (%v), want 50", len(monitors), err)
		}
		status, err := c.SearchSLOStatus(ctx, datadog.TagManaged)
		if err != nil || len(status) != 50 {
			t.Fatalf("SLO search: %d SLOs (%v), want 50", len(status), err)
		}
	}
	repeats := repeated(t) - before
	calls := 0
	for _, route := range []string{"GET /api/v1/slo", "GET /api/v1/monitor", "GET /api/v1/slo/search"} {
		calls += fake.Requests()[route]
	}
	if repeats == 0 || float64(calls) != 3*reads*9+repeats {
		t.Errorf("%d calls and %v repeated pages for %d reads of 3 lists of 9 pages: want the 9 pages plus the repeats", calls, repeats, reads)
	}
	t.Logf("%d calls, %v of them repeats", calls, repeats)
}

// repeated sums selfserve_datadog_repeated_pages_total.
func repeated(t *testing.T) float64 {
	t.Helper()
	v, err := controlplane.Metric("selfserve_datadog_repeated_pages_total", nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDashboardsThatCannotBeListedStopNoOtherRead: a key that may not read dashboards (403) does
// not stop the refresh of SLOs, monitors and budgets; the failure is kept for the Teams.
func TestDashboardsThatCannotBeListedStopNoOtherRead(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{})
	c := client(t, fake)
	seed(t, c, 3)
	fake.FailNext("GET /api/v1/dashboard", 403)
	inv := datadog.NewInventory()
	if err := inv.Refresh(context.Background(), c, time.Now()); err != nil {
		t.Fatalf("refresh with the dashboards refused: %v, want the other reads done", err)
	}
	if inv.Synced().IsZero() || !datadog.IsKind(inv.DashboardsErr(), datadog.KindAuth) {
		t.Errorf("synced at %v, dashboards error %v: want synced, and the 403 kept", inv.Synced(), inv.DashboardsErr())
	}
	if err := inv.Refresh(context.Background(), c, time.Now()); err != nil || inv.DashboardsErr() != nil {
		t.Errorf("the next refresh: %v, dashboards error %v; want both nil", err, inv.DashboardsErr())
	}
}
