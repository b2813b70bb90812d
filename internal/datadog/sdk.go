package datadog

import (
	"context"
	"fmt"
	"net/url"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
)

// Context returns ctx carrying what the Datadog SDK reads per request: the keys and the server
// to talk to. A URL override (a fake, a proxy) uses the SDK's "{protocol}://{name}" server;
// otherwise the site selects Datadog's regional endpoint.
func (s Settings) Context(ctx context.Context) (context.Context, error) {
	ctx = context.WithValue(ctx, datadog.ContextAPIKeys, map[string]datadog.APIKey{
		"apiKeyAuth": {Key: s.APIKey},
		"appKeyAuth": {Key: s.AppKey},
	})
	if s.URL == "" {
		return context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"site": s.Site}), nil
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("datadog URL %q is not an absolute URL", s.URL)
	}
	ctx = context.WithValue(ctx, datadog.ContextServerIndex, 1)
	return context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{
		"protocol": u.Scheme,
		"name":     u.Host,
	}), nil
}

// NewAPIClient returns an SDK client. Retries are left to the operator's own pacing, which
// reads the rate-limit headers of every answer.
func NewAPIClient() *datadog.APIClient {
	cfg := datadog.NewConfiguration()
	cfg.RetryConfiguration.EnableRetry = false
	return datadog.NewAPIClient(cfg)
}
