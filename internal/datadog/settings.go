package datadog

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"net/url"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Keys of the operator's Datadog Secret (the same names the Datadog operator uses).
const (
	SecretKeyAPIKey = "api-key"
	SecretKeyAppKey = "app-key"
	SecretKeySite   = "site"
	SecretKeyURL    = "url"
)

// Environment variables read when the Secret lacks a value; DD_API_KEY, DD_APP_KEY and DD_SITE
// are the names Datadog's own tools use.
const (
	EnvAPIKey = "DD_API_KEY"
	EnvAppKey = "DD_APP_KEY"
	EnvSite   = "DD_SITE"
	// EnvURL points the client at another base URL, such as the local Datadog fake of
	// `make run`. Empty means https://api.<site>.
	EnvURL = "SELFSERVE_DATADOG_URL"
)

// DefaultSite is Datadog's US1 site.
const DefaultSite = "datadoghq.com"

// Settings are where and how the operator reaches Datadog. Keys are never logged.
type Settings struct {
	// Site is the Datadog site, for example datadoghq.com or datadoghq.eu.
	Site string
	// URL overrides the API base URL (https://api.<site>), for a fake or a proxy.
	URL string
	// APIKey and AppKey authenticate the operator.
	APIKey string
	AppKey string
	// Timeout is the longest one request may take, retries included; DefaultTimeout when zero.
	// A create that times out has an unknown outcome (see KindUnknown).
	Timeout time.Duration
	// Settle is how long after a create's time-out Datadog may still store it and its lists
	// may not show it yet; DefaultSettle when zero. See SettlesAt.
	Settle time.Duration
}

// DefaultTimeout bounds one Datadog request, retries included.
const DefaultTimeout = 30 * time.Second

// DefaultSettle is the settle window when none is set: Datadog answers list and search reads
// from indexes that trail writes by seconds, and a create held past the client's time-out may
// be stored after it; a minute covers both with room (docs/slo.md).
const DefaultSettle = time.Minute

// SettlesAt is when a create sent at sent, whose outcome is unknown, has settled: from then on
// a look-up that does not find what it made is believed.
func (s Settings) SettlesAt(sent time.Time) time.Time {
	return sent.Add(cmp.Or(s.Timeout, DefaultTimeout) + cmp.Or(s.Settle, DefaultSettle))
}

// Configured reports whether both keys are present. Without them the operator still runs, and
// ServiceSLOs say in their Ready condition how to configure Datadog.
func (s Settings) Configured() bool { return s.APIKey != "" && s.AppKey != "" }

// BaseURL is the API base URL the client talks to.
func (s Settings) BaseURL() string {
	if s.URL != "" {
		return strings.TrimSuffix(s.URL, "/")
	}
	return "https://api." + s.Site
}

// AppURL is where people open what the API made (a dashboard's url is a path under it): the
// fake's URL in tests, app.<site> for the sites without a region prefix, <site> for the others
// (us3.datadoghq.com).
func (s Settings) AppURL() string {
	if s.URL != "" {
		return strings.TrimSuffix(s.URL, "/")
	}
	if strings.Count(s.Site, ".") >= 2 {
		return "https://" + s.Site
	}
	return "https://app." + s.Site
}

// String describes the settings without the keys.
func (s Settings) String() string {
	return fmt.Sprintf("site=%s url=%s credentials=%t", s.Site, s.BaseURL(), s.Configured())
}

// LoadSettings reads the operator's Datadog Secret, then fills what it lacks from the
// environment. A missing Secret is not an error: the result is simply not Configured.
func LoadSettings(ctx context.Context, r client.Reader, secret types.NamespacedName) (Settings, error) {
	var s Settings
	if secret.Name != "" {
		var sec corev1.Secret
		err := r.Get(ctx, secret, &sec)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return Settings{}, fmt.Errorf("reading Datadog Secret %s: %w", secret, err)
		default:
			s.APIKey = strings.TrimSpace(string(sec.Data[SecretKeyAPIKey]))
			s.AppKey = strings.TrimSpace(string(sec.Data[SecretKeyAppKey]))
			s.Site = strings.TrimSpace(string(sec.Data[SecretKeySite]))
			s.URL = strings.TrimSpace(string(sec.Data[SecretKeyURL]))
		}
	}
	fill := func(v *string, env string) {
		if *v == "" {
			*v = strings.TrimSpace(os.Getenv(env))
		}
	}
	fill(&s.APIKey, EnvAPIKey)
	fill(&s.AppKey, EnvAppKey)
	fill(&s.Site, EnvSite)
	fill(&s.URL, EnvURL)
	if s.Site == "" {
		s.Site = DefaultSite
	}
	return s, nil
}

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
