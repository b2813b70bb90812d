package datadogfake

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/selfserve-dev/selfserve/test/controlplane"
)

// StartChecked serves the fake on a random local port, checking every request against Datadog's
// OpenAPI specification where the team's reference copy is beside the checkout
// (../shared/reference/datadog-api); spec is nil where it is not. Close the server when done.
func StartChecked(fake *Server) (srv *httptest.Server, spec *SpecValidator, err error) {
	var handler http.Handler = fake
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	root, err := controlplane.RepoRoot()
	if err != nil {
		return srv, nil, nil
	}
	path := filepath.Join(root, "..", "shared", "reference", "datadog-api", "openapi-v1.yaml")
	if _, err := os.Stat(path); err != nil {
		return srv, nil, nil
	}
	if spec, err = NewSpecValidator(path, srv.URL); err != nil {
		srv.Close()
		return nil, nil, err
	}
	handler = spec.Wrap(fake)
	return srv, spec, nil
}

// CheckEveryRequest fails t for each request the package's earlier tests sent that the
// specification refuses; it skips where there is no specification or no request was checked.
// A package's last test file (by name) calls it, after the tests that reach Datadog.
func CheckEveryRequest(t *testing.T, spec *SpecValidator) {
	t.Helper()
	if spec == nil {
		t.Skip("Datadog's OpenAPI specification is not beside this checkout (../shared/reference/datadog-api); nothing to check against")
	}
	checked, problems := spec.Report()
	if checked == 0 {
		t.Skip("no request reached the fake: this test checks what the package's other tests sent, run it with them")
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d requests checked against the specification", checked)
}
