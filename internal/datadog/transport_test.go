package datadog_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
)

func client(t *testing.T, fake *datadogfake.Server) *datadog.Client {
	t.Helper()
	srv := fake.Start()
	t.Cleanup(srv.Close)
	return datadog.NewClient(datadog.Settings{URL: srv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}, datadog.NewPacer())
}

func TestTransportRetriesServerErrorsAndDroppedConnections(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{})
	c := client(t, fake)
	fake.FailNext("GET /api/v1/slo", http.StatusBadGateway, http.StatusServiceUnavailable)
	fake.DropNext("GET /api/v1/slo", 1)
	if _, err := c.ListSLOs(context.Background(), datadog.TagManaged); err != nil {
		t.Fatalf("a 502, a 503 and a dropped connection were not retried: %v", err)
	}
	if got := fake.Requests()["GET /api/v1/slo"]; got != 4 {
		t.Errorf("%d attempts, want 4", got)
	}
}

func TestTransportWaitsForTheRateLimitResetAfterA429(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{})
	c := client(t, fake)
	fake.Throttle(1500 * time.Millisecond)
	start := time.Now()
	if _, err := c.ListMonitors(context.Background(), []string{datadog.TagManaged}); err != nil {
		t.Fatalf("not retried after the storm: %v", err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %s, before the reset the 429 announced", waited)
	}
	// Paced, not a tight loop: one refused attempt, then one after the reset.
	if got := fake.Requests()["GET /api/v1/monitor"]; got > 3 {
		t.Errorf("%d attempts during a 1.5 s storm; the pacer should wait for the reset", got)
	}
}

func TestErrorsAreClassifiedByStatusCode(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{})
	c := client(t, fake)
	ctx := context.Background()
	_, err := c.GetSLO(ctx, "0123456789abcdef0123456789abcdef")
	if !datadog.IsKind(err, datadog.KindNotFound) {
		t.Errorf("missing SLO: %v, want NotFound", err)
	}
	if err := c.DeleteMonitor(ctx, 42); err != nil {
		t.Errorf("deleting a monitor that is already gone: %v, want success", err)
	}
	bad := datadog.NewClient(datadog.Settings{URL: "http://127.0.0.1:1", APIKey: "x", AppKey: "y"}, datadog.NewPacer())
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := bad.ListSLOs(ctx2, "x"); err == nil {
		t.Error("no error from an unreachable Datadog")
	}
}

// TestCreateIsNotResentWhenItsOutcomeIsUnknown: a POST answered with a 5xx may have been
// stored; it is sent once, and the failure says the outcome is unknown. A GET is retried.
func TestCreateIsNotResentWhenItsOutcomeIsUnknown(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{})
	c := client(t, fake)
	ctx := context.Background()
	fake.LoseAnswers("POST /api/v1/monitor", 1, http.StatusBadGateway)
	m := datadogV1.NewMonitor("avg(last_5m):avg:system.load.1{*} > 10", datadogV1.MONITORTYPE_METRIC_ALERT)
	m.SetName("load")
	m.SetTags([]string{datadog.TagManaged})
	_, err := c.CreateMonitor(ctx, *m)
	if !datadog.IsKind(err, datadog.KindUnknown) {
		t.Fatalf("create answered 502: %v, want an unknown outcome", err)
	}
	if got := fake.Requests()["POST /api/v1/monitor"]; got != 1 {
		t.Errorf("the create was sent %d times; a create whose outcome is unknown must not be re-sent", got)
	}
	stored, err := c.ListMonitors(ctx, []string{datadog.TagManaged})
	if err != nil || len(stored) != 1 {
		t.Errorf("Datadog holds %d monitors (%v): the lost answer's monitor, and only it", len(stored), err)
	}
}

// TestCreateIsResentWhenItWasRefusedForTheRateLimit: a 429 is an answer that nothing was stored.
func TestCreateIsResentWhenItWasRefusedForTheRateLimit(t *testing.T) {
	fake := datadogfake.New(datadogfake.Options{})
	c := client(t, fake)
	fake.Throttle(1500 * time.Millisecond)
	m := datadogV1.NewMonitor("avg(last_5m):avg:system.load.1{*} > 10", datadogV1.MONITORTYPE_METRIC_ALERT)
	m.SetName("load")
	if _, err := c.CreateMonitor(context.Background(), *m); err != nil {
		t.Fatalf("a create refused with 429 was not sent again after the reset: %v", err)
	}
	if got := fake.Requests()["POST /api/v1/monitor"]; got < 2 {
		t.Errorf("%d attempts, want the refused one and one after the reset", got)
	}
	if stored, err := c.ListMonitors(context.Background(), nil); err != nil || len(stored) != 1 {
		t.Errorf("Datadog holds %d monitors (%v), want 1", len(stored), err)
	}
}
