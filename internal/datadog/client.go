package datadog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/selfserve-dev/selfserve/internal/metrics"
)

// Kind classifies a failed Datadog call by its status code.
type Kind string

// Kinds of failure.
const (
	KindNotFound    Kind = "NotFound"
	KindRateLimited Kind = "RateLimited"
	KindInvalid     Kind = "Invalid"
	KindAuth        Kind = "Unauthorized"
	KindRetryable   Kind = "Unavailable"
	// KindUnknown is a create whose outcome is unknown (a 5xx, a reset, a time-out): Datadog
	// may have stored it. Look for what it may have made before creating again.
	KindUnknown Kind = "OutcomeUnknown"
)

// Error is a failed Datadog call.
type Error struct {
	Op      string
	Status  int
	Kind    Kind
	Message string
	// RetryAfter is when a rate-limited call may be tried again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("Datadog %s: %s", e.Op, e.Message)
	}
	return fmt.Sprintf("Datadog %s: %d %s", e.Op, e.Status, e.Message)
}

// IsKind reports whether err is a Datadog error of that kind.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// classify turns an SDK failure into an Error, by status code; the message is Datadog's own
// ("errors" of the body) when there is one.
func classify(op string, resp *http.Response, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Message: err.Error(), Kind: KindRetryable}
	if resp != nil {
		e.Status = resp.StatusCode
		switch {
		case resp.StatusCode == http.StatusNotFound:
			e.Kind = KindNotFound
		case resp.StatusCode == http.StatusTooManyRequests:
			e.Kind = KindRateLimited
			if reset, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Reset")); err == nil {
				e.RetryAfter = time.Duration(reset) * time.Second
			}
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			e.Kind = KindAuth
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			e.Kind = KindInvalid
		}
	}
	var apiErr datadog.GenericOpenAPIError
	if errors.As(err, &apiErr) {
		var body struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(apiErr.Body(), &body) == nil && len(body.Errors) > 0 {
			e.Message = strings.Join(body.Errors, "; ")
		}
	}
	return e
}

// createFailure marks a failed create whose outcome is unknown: anything but a refusal Datadog
// answered (4xx) may have stored the object.
func createFailure(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindRetryable {
		e.Kind = KindUnknown
	}
	return err
}

// Client reaches Datadog's SLO and monitor APIs through the SDK, with one pacer and request
// counter for every call.
type Client struct {
	settings Settings
	slos     *datadogV1.ServiceLevelObjectivesApi
	monitors *datadogV1.MonitorsApi
	// downtimes is Datadog's v1 downtime API: deprecated in favour of v2, but the one whose
	// specification the fake is checked against (docs/monitoring.md).
	downtimes  *datadogV1.DowntimesApi
	dashboards *datadogV1.DashboardsApi
	// PageSize is the page size of list calls.
	PageSize int
}

// NewClient returns a client for the settings, sharing pacer across calls.
func NewClient(s Settings, pacer *Pacer) *Client {
	cfg := datadog.NewConfiguration()
	cfg.RetryConfiguration.EnableRetry = false // the Transport retries, paced
	cfg.HTTPClient = &http.Client{
		Timeout:   cmp.Or(s.Timeout, DefaultTimeout),
		Transport: &Transport{Base: http.DefaultTransport, Pacer: pacer, MaxAttempts: 5, Backoff: 250 * time.Millisecond, MaxWait: 2 * time.Second},
	}
	api := datadog.NewAPIClient(cfg)
	return &Client{settings: s, slos: datadogV1.NewServiceLevelObjectivesApi(api), monitors: datadogV1.NewMonitorsApi(api), downtimes: datadogV1.NewDowntimesApi(api), dashboards: datadogV1.NewDashboardsApi(api), PageSize: 1000}
}

func (c *Client) ctx(ctx context.Context) (context.Context, error) { return c.settings.Context(ctx) }

// Settings are the settings the client was made with.
func (c *Client) Settings() Settings { return c.settings }

// ListSLOs lists the SLOs carrying a tag, every page.
func (c *Client) ListSLOs(ctx context.Context, tag string) ([]datadogV1.ServiceLevelObjective, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return nil, err
	}
	var out []datadogV1.ServiceLevelObjective
	seen := map[string]bool{}
	offset := int64(0)
	p := pager{op: "list SLOs"}
	for {
		resp, httpResp, err := c.slos.ListSLOs(ctx, *datadogV1.NewListSLOsOptionalParameters().
			WithTagsQuery(tag).WithLimit(int64(c.PageSize)).WithOffset(offset))
		if err != nil {
			return nil, classify("list SLOs", httpResp, err)
		}
		fresh := 0
		for _, s := range resp.Data {
			if !seen[s.GetId()] {
				seen[s.GetId()] = true
				out = append(out, s)
				fresh++
			}
		}
		// metadata.page.total_filtered_count is not read: Datadog reports the page's size
		// there, not the matches. The server's page may be smaller than asked: move on by what
		// it gave.
		more, move, err := p.next(len(resp.Data), fresh)
		if !more || err != nil {
			return out, err
		}
		if move {
			offset += int64(len(resp.Data))
		}
	}
}

// maxPages bounds every paginated read: a server that pages forever gets an error, not a loop.
const maxPages = 1000

// maxRepeats is how many times in a row a page may come back with nothing new before a read
// gives up.
const maxRepeats = 5

// pager decides how a paginated read goes on. Only an empty page ends it: totals and "last
// page" fields are hints a service gets wrong (Datadog's SLO list counts the page in
// total_filtered_count), and a page may be shorter than asked. A page that holds only what was
// read before is one the service answered again in place of the one asked for: that page is
// asked again (moving past it would skip what it stood for), at most maxRepeats times in a
// row, each counted in selfserve_datadog_repeated_pages_total; then the read fails rather than
// end short, since a short read would make an object look missing.
type pager struct {
	op             string
	calls, repeats int
}

// next says, after a page of held objects of which fresh were new, whether to read on, and
// whether the next request moves to the next page or asks this one again.
func (p *pager) next(held, fresh int) (more, move bool, err error) {
	p.calls++
	switch {
	case held == 0:
		return false, false, nil
	case p.calls >= maxPages:
		return false, false, &Error{Op: p.op, Kind: KindRetryable, Message: fmt.Sprintf("still paging after %d pages; giving up on this read", maxPages)}
	case fresh > 0:
		p.repeats = 0
		return true, true, nil
	}
	p.repeats++
	metrics.DatadogRepeatedPages.WithLabelValues(p.op).Inc()
	if p.repeats > maxRepeats {
		return false, false, &Error{Op: p.op, Kind: KindRetryable, Message: fmt.Sprintf("%d pages in a row held nothing new: the pages do not move; giving up on this read", p.repeats)}
	}
	return true, false, nil
}

// CreateSLO creates an SLO and returns it with its ID.
func (c *Client) CreateSLO(ctx context.Context, req datadogV1.ServiceLevelObjectiveRequest) (datadogV1.ServiceLevelObjective, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.ServiceLevelObjective{}, err
	}
	resp, httpResp, err := c.slos.CreateSLO(ctx, req)
	if err != nil {
		return datadogV1.ServiceLevelObjective{}, createFailure(classify("create SLO", httpResp, err))
	}
	if len(resp.Data) != 1 {
		return datadogV1.ServiceLevelObjective{}, &Error{Op: "create SLO", Message: fmt.Sprintf("answer holds %d SLOs", len(resp.Data))}
	}
	return resp.Data[0], nil
}

// GetSLO reads one SLO. The operator calls it only to confirm a loss before re-creating.
func (c *Client) GetSLO(ctx context.Context, id string) (datadogV1.ServiceLevelObjective, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.ServiceLevelObjective{}, err
	}
	resp, httpResp, err := c.slos.GetSLO(ctx, id)
	if err != nil {
		return datadogV1.ServiceLevelObjective{}, classify("get SLO", httpResp, err)
	}
	// The single-object answer has its own type with the same fields as the list's.
	var out datadogV1.ServiceLevelObjective
	raw, err := json.Marshal(resp.GetData())
	if err == nil {
		err = json.Unmarshal(raw, &out)
	}
	return out, err
}

// UpdateSLO replaces an SLO's definition.
func (c *Client) UpdateSLO(ctx context.Context, id string, slo datadogV1.ServiceLevelObjective) (datadogV1.ServiceLevelObjective, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.ServiceLevelObjective{}, err
	}
	resp, httpResp, err := c.slos.UpdateSLO(ctx, id, slo)
	if err != nil {
		return datadogV1.ServiceLevelObjective{}, classify("update SLO", httpResp, err)
	}
	if len(resp.Data) != 1 {
		return datadogV1.ServiceLevelObjective{}, &Error{Op: "update SLO", Message: fmt.Sprintf("answer holds %d SLOs", len(resp.Data))}
	}
	return resp.Data[0], nil
}

// DeleteSLO deletes an SLO; one already gone counts as deleted.
func (c *Client) DeleteSLO(ctx context.Context, id string) error {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return err
	}
	_, httpResp, err := c.slos.DeleteSLO(ctx, id)
	if err = classify("delete SLO", httpResp, err); IsKind(err, KindNotFound) {
		return nil
	}
	return err
}

// ListMonitors lists the monitors carrying every tag, every page.
func (c *Client) ListMonitors(ctx context.Context, tags []string) ([]datadogV1.Monitor, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return nil, err
	}
	var out []datadogV1.Monitor
	seen := map[int64]bool{}
	p := pager{op: "list monitors"}
	for page := int64(0); ; {
		resp, httpResp, err := c.monitors.ListMonitors(ctx, *datadogV1.NewListMonitorsOptionalParameters().
			WithMonitorTags(strings.Join(tags, ",")).WithPage(page).WithPageSize(int32(c.PageSize)))
		if err != nil {
			return nil, classify("list monitors", httpResp, err)
		}
		fresh := 0
		for _, m := range resp {
			if !seen[m.GetId()] {
				seen[m.GetId()] = true
				out = append(out, m)
				fresh++
			}
		}
		more, move, err := p.next(len(resp), fresh)
		if !more || err != nil {
			return out, err
		}
		if move {
			page++
		}
	}
}

// CreateMonitor creates a monitor and returns it with its ID.
func (c *Client) CreateMonitor(ctx context.Context, m datadogV1.Monitor) (datadogV1.Monitor, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Monitor{}, err
	}
	resp, httpResp, err := c.monitors.CreateMonitor(ctx, m)
	if err != nil {
		return datadogV1.Monitor{}, createFailure(classify("create monitor", httpResp, err))
	}
	return resp, nil
}

// GetMonitor reads one monitor. The operator calls it only to confirm a loss before
// re-creating.
func (c *Client) GetMonitor(ctx context.Context, id int64) (datadogV1.Monitor, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Monitor{}, err
	}
	resp, httpResp, err := c.monitors.GetMonitor(ctx, id)
	return resp, classify("get monitor", httpResp, err)
}

// UpdateMonitor changes a monitor.
func (c *Client) UpdateMonitor(ctx context.Context, id int64, m datadogV1.MonitorUpdateRequest) (datadogV1.Monitor, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Monitor{}, err
	}
	resp, httpResp, err := c.monitors.UpdateMonitor(ctx, id, m)
	return resp, classify("update monitor", httpResp, err)
}

// DeleteMonitor deletes a monitor; one already gone counts as deleted.
func (c *Client) DeleteMonitor(ctx context.Context, id int64) error {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return err
	}
	_, httpResp, err := c.monitors.DeleteMonitor(ctx, id)
	if err = classify("delete monitor", httpResp, err); IsKind(err, KindNotFound) {
		return nil
	}
	return err
}

// SLOStatus is the error budget of one timeframe of an SLO, as the SLO search reports it.
type SLOStatus struct {
	Timeframe string
	// BudgetRemaining is in percent; nil when Datadog has no data yet.
	BudgetRemaining *float64
	SLI             *float64
	State           string
}

// SearchSLOStatus returns the status per timeframe of every SLO matching the query, by SLO ID,
// every page.
func (c *Client) SearchSLOStatus(ctx context.Context, query string) (map[string][]SLOStatus, error) {
	found, err := c.SearchSLOs(ctx, query)
	out := make(map[string][]SLOStatus, len(found))
	for _, f := range found {
		out[f.ID] = f.Status
	}
	return out, err
}

// FoundSLO is an SLO as the SLO search reports it.
type FoundSLO struct {
	ID, Name string
	// Tags are all its tags, lower case.
	Tags   []string
	Status []SLOStatus
}

// SearchSLOs returns every SLO matching the query ("tag:value" terms, AND), every page, once
// each.
func (c *Client) SearchSLOs(ctx context.Context, query string) ([]FoundSLO, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return nil, err
	}
	var out []FoundSLO
	seen := map[string]bool{}
	const size = 100
	p := pager{op: "search SLOs"}
	for page := int64(0); ; {
		resp, httpResp, err := c.slos.SearchSLO(ctx, *datadogV1.NewSearchSLOOptionalParameters().
			WithQuery(query).WithPageSize(size).WithPageNumber(page))
		if err != nil {
			return nil, classify("search SLOs", httpResp, err)
		}
		var slos []datadogV1.SearchServiceLevelObjective
		if resp.Data != nil && resp.Data.Attributes != nil {
			slos = resp.Data.Attributes.Slos
		}
		fresh := 0
		for _, s := range slos {
			if s.Data == nil || s.Data.Attributes == nil || seen[s.Data.GetId()] {
				continue
			}
			seen[s.Data.GetId()] = true
			fresh++
			f := FoundSLO{ID: s.Data.GetId(), Name: s.Data.Attributes.GetName()}
			for _, t := range s.Data.Attributes.AllTags {
				f.Tags = append(f.Tags, strings.ToLower(t))
			}
			for _, o := range s.Data.Attributes.OverallStatus {
				st := SLOStatus{Timeframe: string(o.GetTimeframe()), State: string(o.GetState())}
				if v, ok := o.GetErrorBudgetRemainingOk(); ok && v != nil {
					st.BudgetRemaining = v
				}
				if v, ok := o.GetStatusOk(); ok && v != nil {
					st.SLI = v
				}
				f.Status = append(f.Status, st)
			}
			out = append(out, f)
		}
		// meta.pagination is a hint, like every total.
		more, move, err := p.next(len(slos), fresh)
		if !more || err != nil {
			return out, err
		}
		if move {
			page++
		}
	}
}

// RetryDelay is when a call that failed with err is tried again: after what Datadog asked for (a
// rate limit's reset, an unknown create's settling), else after 30 s; spread by up to a second
// so that the objects that failed together do not come back together.
func RetryDelay(err error) time.Duration {
	after := 30 * time.Second
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		after = e.RetryAfter
	}
	return after + time.Duration(rand.Int64N(int64(time.Second)))
}
