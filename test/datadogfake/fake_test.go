package datadogfake_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"github.com/google/go-cmp/cmp"

	ddsettings "github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
)

// sdk returns the real Datadog SDK's SLO and monitor APIs pointed at a fresh fake.
func sdk(t *testing.T, opts datadogfake.Options, apiKey, appKey string) (context.Context, *datadogV1.ServiceLevelObjectivesApi, *datadogV1.MonitorsApi, *datadogfake.Server) {
	t.Helper()
	fake := datadogfake.New(opts)
	srv := fake.Start()
	t.Cleanup(srv.Close)
	ctx, err := ddsettings.Settings{URL: srv.URL, APIKey: apiKey, AppKey: appKey}.Context(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := datadog.NewConfiguration()
	cfg.RetryConfiguration.EnableRetry = false // what a test sends is what the fake sees
	client := datadog.NewAPIClient(cfg)
	return ctx, datadogV1.NewServiceLevelObjectivesApi(client), datadogV1.NewMonitorsApi(client), fake
}

func metricSLO(name string, tags ...string) datadogV1.ServiceLevelObjectiveRequest {
	req := datadogV1.NewServiceLevelObjectiveRequest(name, []datadogV1.SLOThreshold{
		{Timeframe: datadogV1.SLOTIMEFRAME_THIRTY_DAYS, Target: 99.9},
	}, datadogV1.SLOTYPE_METRIC)
	req.SetQuery(datadogV1.ServiceLevelObjectiveQuery{
		Numerator:   "sum:requests.ok{service:checkout}.as_count()",
		Denominator: "sum:requests{service:checkout}.as_count()",
	})
	req.SetTags(tags)
	return *req
}

func status(t *testing.T, resp *http.Response, err error) int {
	t.Helper()
	if resp == nil {
		t.Fatalf("no HTTP response: %v", err)
	}
	return resp.StatusCode
}

func TestSLOLifecycleThroughTheSDK(t *testing.T) {
	ctx, slos, _, _ := sdk(t, datadogfake.Options{}, datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey)

	created, _, err := slos.CreateSLO(ctx, metricSLO("checkout availability", "team:payments", "managed-by:selfserve"))
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Data) != 1 {
		t.Fatalf("create answered %d SLOs, want 1", len(created.Data))
	}
	id := created.Data[0].GetId()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("SLO ID %q is not 32 hex digits like Datadog's", id)
	}
	if diff := cmp.Diff([]string{"managed-by:selfserve", "team:payments"}, created.Data[0].GetTags()); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}

	got, _, err := slos.GetSLO(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Data.GetName() != "checkout availability" {
		t.Errorf("get returned name %q", got.Data.GetName())
	}

	// Three more SLOs, two of another team: the tag filter and the paging must hold.
	for _, name := range []string{"b", "c"} {
		if _, _, err := slos.CreateSLO(ctx, metricSLO(name, "team:search")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := slos.CreateSLO(ctx, metricSLO("d", "team:payments")); err != nil {
		t.Fatal(err)
	}
	list, _, err := slos.ListSLOs(ctx, *datadogV1.NewListSLOsOptionalParameters().WithTagsQuery("team:payments"))
	if err != nil {
		t.Fatal(err)
	}
	if names := sloNames(list.Data); !cmp.Equal(names, []string{"checkout availability", "d"}) {
		t.Errorf("tags_query team:payments listed %v", names)
	}
	page2, _, err := slos.ListSLOs(ctx, *datadogV1.NewListSLOsOptionalParameters().WithLimit(2).WithOffset(2))
	if err != nil {
		t.Fatal(err)
	}
	if names := sloNames(page2.Data); !cmp.Equal(names, []string{"c", "d"}) {
		t.Errorf("limit 2 offset 2 listed %v, want [c d]", names)
	}

	update := metricSLO("checkout availability", "team:payments")
	update.Thresholds[0].Target = 99.5
	updated, _, err := slos.UpdateSLO(ctx, id, *datadogV1.NewServiceLevelObjectiveWithDefaults())
	if err == nil {
		t.Errorf("an update without name, type and thresholds was accepted: %+v", updated)
	}
	body := datadogV1.NewServiceLevelObjective(update.Name, update.Thresholds, update.Type)
	body.SetQuery(*update.Query)
	body.SetTags(update.Tags)
	if _, _, err := slos.UpdateSLO(ctx, id, *body); err != nil {
		t.Fatal(err)
	}
	got, _, _ = slos.GetSLO(ctx, id)
	if target := got.Data.GetThresholds()[0].Target; target != 99.5 {
		t.Errorf("target after update = %v, want 99.5", target)
	}

	if _, _, err := slos.DeleteSLO(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, resp, err := slos.GetSLO(ctx, id)
	if code := status(t, resp, err); code != http.StatusNotFound {
		t.Errorf("get after delete: status %d, want 404", code)
	}
	_, resp, err = slos.DeleteSLO(ctx, id)
	if code := status(t, resp, err); code != http.StatusNotFound {
		t.Errorf("second delete: status %d, want 404", code)
	}
}

func TestInvalidSLOIsRejectedLikeDatadog(t *testing.T) {
	ctx, slos, _, _ := sdk(t, datadogfake.Options{}, datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey)
	req := datadogV1.NewServiceLevelObjectiveRequest("no monitors", []datadogV1.SLOThreshold{
		{Timeframe: datadogV1.SLOTIMEFRAME_SEVEN_DAYS, Target: 95},
	}, datadogV1.SLOTYPE_MONITOR)
	_, resp, err := slos.CreateSLO(ctx, *req)
	if code := status(t, resp, err); code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", code)
	}
	var apiErr datadog.GenericOpenAPIError
	if !asOpenAPIError(err, &apiErr) || !regexp.MustCompile(`must specify monitor_ids`).Match(apiErr.Body()) {
		t.Errorf("error %v does not carry Datadog's message", err)
	}
}

// TestBlankQueryIsRejectedLikeDatadog: a metric SLO whose query is only spaces is one without a
// query, which Datadog refuses.
func TestBlankQueryIsRejectedLikeDatadog(t *testing.T) {
	ctx, slos, _, _ := sdk(t, datadogfake.Options{}, datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey)
	req := metricSLO("blank total")
	req.Query.Denominator = "   "
	_, resp, err := slos.CreateSLO(ctx, req)
	if code := status(t, resp, err); code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", code)
	}
	var apiErr datadog.GenericOpenAPIError
	if !asOpenAPIError(err, &apiErr) || !regexp.MustCompile(`must specify query with numerator and denominator`).Match(apiErr.Body()) {
		t.Errorf("error %v does not carry Datadog's message", err)
	}
}

func TestMonitorsFilterPageAndGuardTheirSLO(t *testing.T) {
	ctx, slos, monitors, fake := sdk(t, datadogfake.Options{}, datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey)
	created, _, err := slos.CreateSLO(ctx, metricSLO("checkout"))
	if err != nil {
		t.Fatal(err)
	}
	sloID := created.Data[0].GetId()

	var ids []int64
	for i, window := range []string{"1h", "6h", "24h"} {
		m := datadogV1.NewMonitor(`burn_rate("`+sloID+`").over("30d").long_window("`+window+`").short_window("5m") > 14.4`, datadogV1.MONITORTYPE_SLO_ALERT)
		m.SetName("checkout burn rate " + window)
		m.SetTags([]string{"managed-by:selfserve", "selfserve-uid:abc", []string{"severity:page", "severity:page", "severity:ticket"}[i]})
		got, _, err := monitors.CreateMonitor(ctx, *m)
		if err != nil {
			t.Fatal(err)
		}
		if got.GetId() == 0 || got.GetOverallState() != datadogV1.MONITOROVERALLSTATES_NO_DATA {
			t.Errorf("created monitor has id %d and state %q", got.GetId(), got.GetOverallState())
		}
		ids = append(ids, got.GetId())
	}
	bad := datadogV1.NewMonitor(`burn_rate("00000000000000000000000000000000").over("30d").long_window("1h").short_window("5m") > 14.4`, datadogV1.MONITORTYPE_SLO_ALERT)
	_, resp, err := monitors.CreateMonitor(ctx, *bad)
	if code := status(t, resp, err); code != http.StatusBadRequest {
		t.Errorf("burn-rate monitor of an unknown SLO: status %d, want 400", code)
	}

	paged, _, err := monitors.ListMonitors(ctx, *datadogV1.NewListMonitorsOptionalParameters().
		WithMonitorTags("managed-by:selfserve,severity:page").WithPage(0).WithPageSize(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(paged) != 1 || paged[0].GetId() != ids[0] {
		t.Errorf("page 0 of size 1 of the page monitors: %v", monitorIDs(paged))
	}
	all, _, err := monitors.ListMonitors(ctx, *datadogV1.NewListMonitorsOptionalParameters().WithMonitorTags("managed-by:selfserve,severity:page"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids[:2], monitorIDs(all)); diff != "" {
		t.Errorf("monitors tagged severity:page (-want +got):\n%s", diff)
	}

	if !fake.SetMonitorState(ids[0], "Alert") {
		t.Fatal("SetMonitorState: monitor not found")
	}
	got, _, err := monitors.GetMonitor(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.GetOverallState() != datadogV1.MONITOROVERALLSTATES_ALERT {
		t.Errorf("state %q, want Alert", got.GetOverallState())
	}

	_, resp, err = slos.DeleteSLO(ctx, sloID)
	if code := status(t, resp, err); code != http.StatusConflict {
		t.Errorf("deleting an SLO its monitors reference: status %d, want 409", code)
	}
	for _, id := range ids {
		if _, _, err := monitors.DeleteMonitor(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	_, resp, err = monitors.GetMonitor(ctx, ids[0])
	if code := status(t, resp, err); code != http.StatusNotFound {
		t.Errorf("get of a deleted monitor: status %d, want 404", code)
	}
	if _, _, err := slos.DeleteSLO(ctx, sloID); err != nil {
		t.Errorf("deleting the SLO once its monitors are gone: %v", err)
	}
}

func TestSearchReportsErrorBudget(t *testing.T) {
	ctx, slos, _, fake := sdk(t, datadogfake.Options{}, datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey)
	created, _, err := slos.CreateSLO(ctx, metricSLO("checkout", "managed-by:selfserve"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := slos.CreateSLO(ctx, metricSLO("unmanaged")); err != nil {
		t.Fatal(err)
	}
	fake.SetSLOStatus(created.Data[0].GetId(), "30d", datadogfake.SLOStatus{SLI: 99.95, ErrorBudgetRemaining: 50, State: "ok"})

	res, _, err := slos.SearchSLO(ctx, *datadogV1.NewSearchSLOOptionalParameters().WithQuery("managed-by:selfserve").WithPageSize(20).WithPageNumber(0))
	if err != nil {
		t.Fatal(err)
	}
	found := res.Data.Attributes.GetSlos()
	if len(found) != 1 {
		t.Fatalf("search found %d SLOs, want 1", len(found))
	}
	st := found[0].Data.Attributes.GetOverallStatus()
	if len(st) != 1 || st[0].GetErrorBudgetRemaining() != 50 || st[0].GetState() != datadogV1.SLOSTATE_OK {
		t.Errorf("overall status %+v, want 50%% remaining and ok", st)
	}
}

func TestRequestsWithoutKeysAreForbidden(t *testing.T) {
	ctx, slos, _, _ := sdk(t, datadogfake.Options{}, "wrong", "keys")
	_, resp, err := slos.ListSLOs(ctx)
	if code := status(t, resp, err); code != http.StatusForbidden {
		t.Errorf("status %d, want 403", code)
	}
}

func TestRateLimitAnswers429WithHeaders(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 3, 0, time.UTC)
	ctx, slos, monitors, fake := sdk(t, datadogfake.Options{RateLimit: 2, RateLimitPeriod: 10 * time.Second, Now: func() time.Time { return now }},
		datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey)
	for range 2 {
		if _, _, err := slos.ListSLOs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, resp, err := slos.ListSLOs(ctx)
	if code := status(t, resp, err); code != http.StatusTooManyRequests {
		t.Fatalf("third request in the window: status %d, want 429", code)
	}
	want := map[string]string{"X-Ratelimit-Limit": "2", "X-Ratelimit-Period": "10", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "7"}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	// Monitors have their own budget.
	if _, _, err := monitors.ListMonitors(ctx); err != nil {
		t.Errorf("monitor list while SLOs are limited: %v", err)
	}
	now = now.Add(7 * time.Second)
	if _, _, err := slos.ListSLOs(ctx); err != nil {
		t.Errorf("after the reset: %v", err)
	}
	if got := fake.Requests()["GET /api/v1/slo"]; got != 4 {
		t.Errorf("counted %d SLO list requests, want 4", got)
	}
}

func sloNames(list []datadogV1.ServiceLevelObjective) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.GetName())
	}
	slices.Sort(out)
	return out
}

func monitorIDs(list []datadogV1.Monitor) []int64 {
	var out []int64
	for _, m := range list {
		out = append(out, m.GetId())
	}
	return out
}

func asOpenAPIError(err error, target *datadog.GenericOpenAPIError) bool {
	e, ok := err.(datadog.GenericOpenAPIError)
	if ok {
		*target = e
	}
	return ok
}

func TestBurnRateMonitorRulesLikeDatadog(t *testing.T) {
	ctx, slos, monitors, _ := sdk(t, datadogfake.Options{}, datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey)
	req := metricSLO("ninety-nine")
	req.Thresholds[0].Target = 99
	created, _, err := slos.CreateSLO(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	id := created.Data[0].GetId()
	for query, want := range map[string]int{
		`burn_rate("` + id + `").over("30d").long_window("1h").short_window("5m") > 14.4`:  http.StatusOK,
		`burn_rate("` + id + `").over("30d").long_window("1h").short_window("5m") > 150`:   http.StatusBadRequest, // above 1/(1-0.99) = 100
		`burn_rate("` + id + `").over("30d").long_window("49h").short_window("5m") > 14.4`: http.StatusBadRequest,
		`burn_rate("` + id + `").over("30d").long_window("1h").short_window("2h") > 14.4`:  http.StatusBadRequest,
	} {
		_, resp, err := monitors.CreateMonitor(ctx, *datadogV1.NewMonitor(query, datadogV1.MONITORTYPE_SLO_ALERT))
		if code := status(t, resp, err); code != want {
			t.Errorf("%s: status %d, want %d", query, code, want)
		}
	}
}

// TestUnparsableQueryIsRejectedLikeDatadog: a query whose braces or parentheses do not pair up
// is refused; one whose delimiters pair up (a quoted brace included) is accepted.
func TestUnparsableQueryIsRejectedLikeDatadog(t *testing.T) {
	ctx, slos, _, _ := sdk(t, datadogfake.Options{}, datadogfake.DefaultAPIKey, datadogfake.DefaultAppKey)
	for query, want := range map[string]int{
		"sum:requests{service:checkout.as_count()":        http.StatusBadRequest,
		"sum:requests{service:checkout}).as_count()":      http.StatusBadRequest,
		`sum:requests{service:"check}out"}.as_count()`:    http.StatusOK,
		"(sum:a{x:y}.as_count() + sum:b{x:y}.as_count())": http.StatusOK,
	} {
		req := metricSLO("parse " + query)
		req.Query.Denominator = query
		_, resp, err := slos.CreateSLO(ctx, req)
		if code := status(t, resp, err); code != want {
			t.Errorf("%s: status %d, want %d", query, code, want)
		}
	}
}
