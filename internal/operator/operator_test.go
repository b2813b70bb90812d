package operator_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestManagerServesProbesSecureMetricsAndStopsGracefully runs the manager as cmd/main.go does
// (webhooks, HTTPS metrics behind Kubernetes authentication, probes) without Datadog
// credentials, and checks it becomes ready, refuses anonymous metrics scrapes, and returns
// cleanly when its context ends.
func TestManagerServesProbesSecureMetricsAndStopsGracefully(t *testing.T) {
	cp, err := controlplane.Start(controlplane.Options{Webhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Stop() }()

	t.Setenv("DD_API_KEY", "")
	t.Setenv("DD_APP_KEY", "")
	opts := operator.DefaultOptions()
	opts.ProbeAddr = freeAddr(t)
	opts.MetricsAddr = freeAddr(t)
	opts.WebhookHost, opts.WebhookPort, opts.WebhookCertDir = cp.WebhookServing()
	opts.GracefulShutdownTimeout = 5 * time.Second

	ctx, cancel := context.WithCancel(ctrl.LoggerInto(context.Background(), ctrl.Log))
	done := make(chan error, 1)
	go func() { done <- operator.Run(ctx, cp.Config, opts) }()

	get := func(url string) int {
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed test server
		resp, err := c.Get(url)
		if err != nil {
			t.Logf("GET %s: %v", url, err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	Eventually(t, 30*time.Second, "/readyz answers 200 (webhook server started)", func() bool {
		return get("http://"+opts.ProbeAddr+"/readyz") == http.StatusOK
	})
	if code := get("http://" + opts.ProbeAddr + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	// The metrics server starts beside the probes, with a self-signed certificate.
	var metricsCode int
	Eventually(t, 30*time.Second, "the metrics endpoint answers", func() bool {
		metricsCode = get("https://" + opts.MetricsAddr + "/metrics")
		return metricsCode != 0
	})
	if metricsCode != http.StatusUnauthorized && metricsCode != http.StatusForbidden {
		t.Errorf("anonymous metrics scrape: status %d, want 401 or 403", metricsCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after its context ended", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the manager did not stop within 15 s of its context ending")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}

// TestDurationsTheOperatorCannotWorkWithAreRefused: a poll interval of zero would read Datadog
// in a loop and a negative one would panic; both stop the start with the flag named.
func TestDurationsTheOperatorCannotWorkWithAreRefused(t *testing.T) {
	for flag, set := range map[string]func(*operator.Options){
		"--datadog-poll-interval must be positive, not 0s":  func(o *operator.Options) { o.DatadogPoll = 0 },
		"--datadog-poll-interval must be positive, not -1s": func(o *operator.Options) { o.DatadogPoll = -time.Second },
		"--datadog-timeout must be positive":                func(o *operator.Options) { o.DatadogTimeout = 0 },
		"--datadog-settle-window may not be negative":       func(o *operator.Options) { o.DatadogSettle = -time.Second },
	} {
		opts := operator.DefaultOptions()
		set(&opts)
		if _, err := operator.NewManager(&rest.Config{Host: "https://127.0.0.1:1"}, opts); err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s: got %v", flag, err)
		}
	}
}
