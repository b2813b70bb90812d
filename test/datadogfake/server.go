package datadogfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Default keys the fake accepts when none are configured.
const (
	DefaultAPIKey = "fake-api-key"
	DefaultAppKey = "fake-app-key"
)

// Options configure the fake.
type Options struct {
	// APIKey and AppKey are the keys requests must carry (DD-API-KEY, DD-APPLICATION-KEY).
	// Empty means DefaultAPIKey and DefaultAppKey.
	APIKey, AppKey string
	// RateLimit is how many requests each endpoint group (slo, monitor) answers per
	// RateLimitPeriod before it answers 429. Zero means 1000.
	RateLimit int
	// RateLimitPeriod is the rate limit window. Zero means 10 s, as Datadog's own windows.
	RateLimitPeriod time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PageSize caps every page of the SLO list, the SLO search and the monitor list, whatever
	// the request asks, as a server with its own, smaller maximum. Zero: pages as asked.
	PageSize int
	// RepeatPages makes every page answer as the first one does: a server whose pages never
	// shrink, which a client that stops only on a short page would read forever.
	RepeatPages bool
	// RepeatPageRate is the share of page reads past the first answered with the page before
	// (as an index whose pages shift between reads does): a client that ends its read there
	// misses the rest. Seed seeds the draw.
	RepeatPageRate float64
	Seed           uint64
}

// SetRepeatPageRate changes Options.RepeatPageRate of a running fake.
func (s *Server) SetRepeatPageRate(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.RepeatPageRate = rate
}

// SetPageSize changes Options.PageSize of a running fake.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.PageSize = n
}

// paged applies the options to a page request: the size it may have, the index it reads (an
// offset when offsets is set, else a page number). Callers hold s.mu.
func (s *Server) paged(size, index int, offsets bool) (int, int) {
	if s.opts.PageSize > 0 && (size < 0 || size > s.opts.PageSize) {
		size = s.opts.PageSize
	}
	if s.opts.RepeatPages {
		index = 0
	}
	if index > 0 && s.opts.RepeatPageRate > 0 && s.rng.Float64() < s.opts.RepeatPageRate {
		if offsets {
			index = max(index-size, 0)
		} else {
			index--
		}
	}
	return size, index
}

// Server is the fake Datadog API.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu             sync.Mutex
	slos           map[string]*slo
	sloOrder       []string
	monitors       map[int64]*monitor
	nextMonitor    int64
	downtimes      map[int64]*downtime
	nextDowntime   int64
	dashboards     map[string]*dashboard
	dashboardOrder []string
	windows        map[string]*rateWindow
	requests       map[string]int
	failNext       map[string][]int
	dropNext       map[string]int
	lose           map[string]*loss
	listLag        map[string]time.Duration
	latency        time.Duration
	throttledTil   time.Time
	orgID          int64
	creatorEmail   string
	rng            *rand.Rand
}

type rateWindow struct {
	start time.Time
	used  int
}

// New returns a fake with no objects.
func New(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = DefaultAPIKey
	}
	if opts.AppKey == "" {
		opts.AppKey = DefaultAppKey
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 1000
	}
	if opts.RateLimitPeriod == 0 {
		opts.RateLimitPeriod = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:         opts,
		mux:          http.NewServeMux(),
		slos:         map[string]*slo{},
		monitors:     map[int64]*monitor{},
		nextMonitor:  150000000,
		downtimes:    map[int64]*downtime{},
		dashboards:   map[string]*dashboard{},
		nextDowntime: 2900000000,
		windows:      map[string]*rateWindow{},
		requests:     map[string]int{},
		failNext:     map[string][]int{},
		dropNext:     map[string]int{},
		lose:         map[string]*loss{},
		listLag:      map[string]time.Duration{},
		orgID:        321813,
		creatorEmail: "selfserve@example.com",
		rng:          rand.New(rand.NewPCG(opts.Seed, opts.Seed)),
	}
	s.routeSLOs()
	s.routeMonitors()
	s.routeDowntimes()
	s.routeDashboards()
	return s
}

// Start serves the fake on a random local port, for tests. Close the returned server when done.
func (s *Server) Start() *httptest.Server { return httptest.NewServer(s) }

// ServeHTTP checks the keys and the rate limit, counts the request, then answers it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		writeErrors(w, http.StatusNotFound, "Not found")
		return
	}
	s.mu.Lock()
	s.requests[pattern]++
	status, limited := s.takeRateLimit(w, r, pattern)
	drop := s.dropNext[pattern] > 0
	injected := 0
	if drop {
		s.dropNext[pattern]--
	} else {
		injected = s.popFailure(pattern)
	}
	latency := s.latency
	lost := s.takeLoss(pattern)
	s.mu.Unlock()

	if latency > 0 {
		time.Sleep(latency)
	}
	if drop {
		// The connection breaks before any answer, as on a network failure.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}

	if r.Header.Get("DD-API-KEY") != s.opts.APIKey || r.Header.Get("DD-APPLICATION-KEY") != s.opts.AppKey {
		writeErrors(w, http.StatusForbidden, "Forbidden")
		return
	}
	if limited {
		writeErrors(w, status, "Too many requests")
		return
	}
	if injected != 0 {
		writeErrors(w, injected, http.StatusText(injected))
		return
	}
	if lost != nil && lost.late > 0 {
		// No answer ever comes; the request is processed lost.late after it arrived, whether
		// the client still waits or not.
		body, _ := io.ReadAll(r.Body)
		late := r.Clone(context.Background())
		late.Body = io.NopCloser(bytes.NewReader(body))
		go func() {
			time.Sleep(lost.late)
			s.mux.ServeHTTP(httptest.NewRecorder(), late)
		}()
		<-r.Context().Done()
		return
	}
	if lost != nil {
		// The request is processed (an object stored), and the answer is then lost.
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, r)
		if lost.code != 0 {
			writeErrors(w, lost.code, http.StatusText(lost.code))
			return
		}
		select {
		case <-time.After(lost.hang):
		case <-r.Context().Done():
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	s.mux.ServeHTTP(w, r)
}

// loss is how requests to a route lose their answers after being processed: every nth one, or
// the next count, answered with code (a 502 from a proxy, say) or only after hang.
type loss struct {
	every, seen, count int
	code               int
	hang, late         time.Duration
}

// takeLoss reports whether this request to the route loses its answer. Callers hold s.mu.
func (s *Server) takeLoss(pattern string) *loss {
	l := s.lose[pattern]
	if l == nil {
		return nil
	}
	l.seen++
	switch {
	case l.every > 0 && l.seen%l.every == 0:
		return l
	case l.every == 0 && l.count > 0:
		l.count--
		return l
	}
	return nil
}

// LoseAnswers makes every nth request to a route (a pattern as in Requests) be processed, its
// object stored, and then answered with code instead of the real answer: what a client sees
// when a proxy fails after Datadog stored the object. 0 stops it.
func (s *Server) LoseAnswers(pattern string, every, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if every == 0 {
		delete(s.lose, pattern)
		return
	}
	s.lose[pattern] = &loss{every: every, code: code}
}

// HangAfterStoring makes the next count requests to a route be processed, their objects
// stored, and answered only after d: past the client's time-out, the answer is lost.
func (s *Server) HangAfterStoring(pattern string, count int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose[pattern] = &loss{count: count, hang: d}
}

// StoreLate makes the next count requests to a route go unanswered, and be processed (their
// objects stored) only after d: a create held past the client's time-out that Datadog stores
// after the client gave up.
func (s *Server) StoreLate(pattern string, count int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose[pattern] = &loss{count: count, late: d}
}

// SetListLag makes a list or search route (a pattern as in Requests: "GET /api/v1/slo", "GET
// /api/v1/monitor", "GET /api/v1/slo/search") show an object only d after it was stored, as
// Datadog's indexes do; reads by ID see it at once. 0 stops it.
func (s *Server) SetListLag(pattern string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listLag[pattern] = d
}

// listed reports whether a list route shows an object stored at stored yet. Callers hold s.mu.
func (s *Server) listed(pattern string, stored time.Time) bool {
	lag := s.listLag[pattern]
	return lag == 0 || !s.opts.Now().Before(stored.Add(lag))
}

// takeRateLimit spends one request of the endpoint group's window and sets the X-RateLimit-*
// headers Datadog sends on every answer. It reports whether the request must be refused.
func (s *Server) takeRateLimit(w http.ResponseWriter, r *http.Request, pattern string) (int, bool) {
	name := rateLimitName(pattern)
	now := s.opts.Now()
	win := s.windows[name]
	if win == nil || now.Sub(win.start) >= s.opts.RateLimitPeriod {
		win = &rateWindow{start: now.Truncate(s.opts.RateLimitPeriod)}
		s.windows[name] = win
	}
	reset := int(win.start.Add(s.opts.RateLimitPeriod).Sub(now).Round(time.Second) / time.Second)
	if reset < 1 {
		reset = 1
	}
	limited := win.used >= s.opts.RateLimit
	remaining := 0
	if now.Before(s.throttledTil) {
		// A storm: every request is refused until it passes, and the reset says when.
		limited = true
		reset = max(1, int(s.throttledTil.Sub(now).Round(time.Second)/time.Second))
	} else {
		if !limited {
			win.used++
		}
		remaining = s.opts.RateLimit - win.used
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("X-RateLimit-Period", strconv.Itoa(int(s.opts.RateLimitPeriod/time.Second)))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(reset))
	h.Set("X-RateLimit-Name", name)
	return http.StatusTooManyRequests, limited
}

// rateLimitName groups endpoints the way Datadog's limits do: one budget for SLOs, one for
// monitors.
func rateLimitName(pattern string) string {
	switch {
	case strings.Contains(pattern, "/api/v1/slo"):
		return "slo"
	case strings.Contains(pattern, "/api/v1/monitor"):
		return "monitor"
	}
	return "other"
}

// Requests returns how many requests each route received, keyed by its pattern, for example
// "GET /api/v1/slo" or "PUT /api/v1/monitor/{id}". Tests use it to assert that the operator
// is frugal.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// ResetRequests sets every request count back to zero.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = map[string]int{}
}

// Throttle answers every request with 429 for d, as during a rate-limit storm.
func (s *Server) Throttle(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttledTil = s.opts.Now().Add(d)
}

// DropNext makes the next n requests to a route lose their connection without an answer.
func (s *Server) DropNext(pattern string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext[pattern] += n
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// FailNext makes the next requests to a route (a pattern as in Requests) answer with the given
// status codes, one per request, for example 500 or 503, to exercise retries.
func (s *Server) FailNext(pattern string, codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[pattern] = append(s.failNext[pattern], codes...)
}

// ClearFailures drops the failures FailNext queued and no request took.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.failNext)
}

func (s *Server) popFailure(pattern string) int {
	codes := s.failNext[pattern]
	if len(codes) == 0 {
		return 0
	}
	s.failNext[pattern] = codes[1:]
	return codes[0]
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeErrors answers in Datadog's error envelope: {"errors": ["..."]}.
func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, map[string]any{"errors": msgs})
}

// readValid decodes a request body and checks it with validate (when given), answering 400 in
// Datadog's envelope when either fails.
func readValid(w http.ResponseWriter, r *http.Request, validate func(map[string]any) string) (map[string]any, bool) {
	body, err := decodeBody(r)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	if validate != nil {
		if msg := validate(body); msg != "" {
			writeErrors(w, http.StatusBadRequest, msg)
			return nil, false
		}
	}
	return body, true
}

func decodeBody(r *http.Request) (map[string]any, error) {
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("Invalid JSON: %v", err)
	}
	body = normalizeNumbers(body).(map[string]any)
	// Datadog stores tags lower case, whatever case they were sent in.
	if tags, ok := body["tags"].([]any); ok {
		for i, t := range tags {
			if s, ok := t.(string); ok {
				tags[i] = strings.ToLower(s)
			}
		}
	}
	return body, nil
}

// normalizeNumbers turns json.Number into int64 where it is integral and float64 otherwise, so
// IDs stay exact and thresholds keep their decimals.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalizeNumbers(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = normalizeNumbers(x)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}
