package datadogfake_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
)

// TestSpecValidatorCatchesInvalidRequests proves the OpenAPI check the controller tests rely
// on flags what it should.
func TestSpecValidatorCatchesInvalidRequests(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "..", "shared", "reference", "datadog-api", "openapi-v1.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Skip("Datadog's OpenAPI specification is not beside this checkout")
	}
	fake := datadogfake.New(datadogfake.Options{})
	var handler http.Handler = fake
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer srv.Close()
	v, err := datadogfake.NewSpecValidator(path, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	handler = v.Wrap(fake)
	send := func(method, path, body string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}
	send("POST", "/api/v1/slo", `{"thresholds":[{"timeframe":"30d","target":99}],"type":"metric"}`) // no name
	send("POST", "/api/v1/monitor", `{"query":"x > 1","type":"nonsense"}`)
	send("GET", "/api/v1/slo", "")
	checked, problems := v.Report()
	if checked != 3 || len(problems) != 2 {
		t.Errorf("checked %d, problems %v; want 3 checked and the two invalid bodies flagged", checked, problems)
	}
}
