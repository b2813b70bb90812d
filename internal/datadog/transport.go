package datadog

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/selfserve-dev/selfserve/internal/metrics"
)

// idSegment matches the object IDs in Datadog paths, so that endpoints stay few.
var idSegment = regexp.MustCompile(`/(?:[0-9]+|[0-9a-f]{32})(/|$)`)

// endpoint names a request's route: "/api/v1/slo/{id}".
func endpoint(path string) string {
	return idSegment.ReplaceAllString(path, "/{id}$1")
}

// Pacer spaces the requests of every reconcile by what Datadog's X-RateLimit-* headers say, so
// that the operator slows down before it is refused rather than after. One Pacer is shared by
// all requests; limits are kept per rate-limit name (slo, monitor …), as Datadog keeps them.
type Pacer struct {
	mu     sync.Mutex
	blocks map[string]time.Time // name -> no request before
	now    func() time.Time
}

// NewPacer returns a pacer with no limit known yet.
func NewPacer() *Pacer { return &Pacer{blocks: map[string]time.Time{}, now: time.Now} }

// blockedFor is how long the named limit holds requests back.
func (p *Pacer) blockedFor(name string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocks[name].Sub(p.now())
}

// wait blocks until the named limit allows a request.
func (p *Pacer) wait(ctx context.Context, name string) error {
	d := p.blockedFor(name)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// observe records the limit state of an answer: with nothing remaining in the window, requests
// of that name wait until it resets.
func (p *Pacer) observe(name string, h http.Header, status int) {
	remaining, errR := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	reset, errS := strconv.Atoi(h.Get("X-RateLimit-Reset"))
	if status != http.StatusTooManyRequests && (errR != nil || remaining > 0) {
		return
	}
	if errS != nil || reset < 1 {
		reset = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := p.now().Add(time.Duration(reset) * time.Second); until.After(p.blocks[name]) {
		p.blocks[name] = until
	}
}

// Transport is the RoundTripper of the Datadog client: it paces requests, retries 429s after the
// reset and 5xx answers and network errors with jittered backoff, and counts every request.
//
// A POST creates something, and is retried only when it is known not to have been processed:
// a 429, or a connection that was never made. After a 5xx, a reset or a time-out, Datadog may
// have stored it, so the answer goes back to the caller, which must look for what the request
// may have made before sending it again (see KindUnknown).
type Transport struct {
	Base  http.RoundTripper
	Pacer *Pacer
	// MaxAttempts bounds the tries of one request.
	MaxAttempts int
	// Backoff is the first retry delay of 5xx answers and network errors; it doubles per try.
	Backoff time.Duration
	// MaxWait is the longest a request waits for a rate limit to reset. Beyond it the request is
	// answered at once with a 429 naming the reset, so the reconcile can requeue for then
	// instead of holding a worker.
	MaxWait time.Duration
}

// RoundTrip sends one request, pacing and retrying it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	name := rateLimitName(req.URL.Path)
	ep := endpoint(req.URL.Path)
	backoff := t.Backoff
	for attempt := 1; ; attempt++ {
		if d := t.Pacer.blockedFor(name); d > t.MaxWait {
			return rateLimited(req, d), nil
		}
		if err := t.Pacer.wait(req.Context(), name); err != nil {
			return nil, err
		}
		r := req
		if attempt > 1 {
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.Base.RoundTrip(r)
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		metrics.DatadogRequests.WithLabelValues(ep, req.Method, strconv.Itoa(code)).Inc()
		if resp != nil {
			t.Pacer.observe(name, resp.Header, code)
		}
		retry := err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) ||
			code == http.StatusTooManyRequests || code >= 500
		if req.Method == http.MethodPost && code != http.StatusTooManyRequests && !notSent(err) {
			retry = false
		}
		if !retry || attempt >= t.MaxAttempts {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		if code != http.StatusTooManyRequests {
			// 5xx and network errors: exponential backoff with full jitter. A 429 waits in the
			// pacer for the reset instead.
			d := time.Duration(rand.Int64N(int64(backoff) + 1))
			backoff = min(backoff*2, 30*time.Second)
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(d):
			}
		}
	}
}

// notSent reports whether a request failed before any byte could reach Datadog: the connection
// was refused or could not be made.
func notSent(err error) bool {
	var op *net.OpError
	return err != nil && errors.As(err, &op) && op.Op == "dial"
}

// rateLimited is the answer to a request that would wait longer than MaxWait for the rate
// limit: a 429 as Datadog would send it, without sending anything.
func rateLimited(req *http.Request, wait time.Duration) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
	body := `{"errors":["rate limit exhausted; held back by the operator until the reset"]}`
	return &http.Response{
		StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// rateLimitName is the Datadog rate limit an endpoint counts against.
func rateLimitName(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/v1/slo"):
		return "slo"
	case strings.HasPrefix(path, "/api/v1/monitor"):
		return "monitor"
	}
	return "other"
}
