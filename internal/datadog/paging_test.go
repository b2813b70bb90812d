package datadog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/selfserve-dev/selfserve/internal/datadog"
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
// size answers every read with short pages; every object is still read.
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
	// 50 in pages of 7: 8 pages each (the monitor list, which has no totals, one more, empty).
	for route, want := range map[string]int{"GET /api/v1/slo": 8, "GET /api/v1/monitor": 9, "GET /api/v1/slo/search": 8} {
		if got := fake.Requests()[route]; got != want {
			t.Errorf("%s: %d calls, want %d", route, got, want)
		}
	}
}

// TestPagingEndsWhenPagesDoNotMove: a server that answers every page as the first one ends
// every read after the second call, instead of a read that never ends.
func TestPagingEndsWhenPagesDoNotMove(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{PageSize: 5, RepeatPages: true})
	c := client(t, fake)
	c.PageSize = 5
	seed(t, c, 12)
	ctx := context.Background()
	if _, err := c.ListSLOs(ctx, datadog.TagManaged); err != nil {
		t.Errorf("SLO list: %v", err)
	}
	if _, err := c.ListMonitors(ctx, []string{datadog.TagManaged}); err != nil {
		t.Errorf("monitor list: %v", err)
	}
	if _, err := c.SearchSLOStatus(ctx, datadog.TagManaged); err != nil {
		t.Errorf("SLO search: %v", err)
	}
	for _, route := range []string{"GET /api/v1/slo", "GET /api/v1/monitor", "GET /api/v1/slo/search"} {
		if got := fake.Requests()[route]; got > 2 {
			t.Errorf("%s: %d calls for pages that never move; want the read to end at the second", route, got)
		}
	}
}
