package datadogfake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// SpecValidator checks every request against Datadog's OpenAPI specification (path, query
// parameters and body), so tests can prove that what the operator sends is what the real API
// accepts, not only what the fake happens to.
type SpecValidator struct {
	router routers.Router

	mu       sync.Mutex
	checked  int
	problems []string
}

// NewSpecValidator loads the specification and serves it at serverURL (the fake's address).
func NewSpecValidator(specPath, serverURL string) (*SpecValidator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", specPath, err)
	}
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &SpecValidator{router: router}, nil
}

// Wrap validates each request, then hands it to next.
func (v *SpecValidator) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		v.check(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func (v *SpecValidator) check(r *http.Request, body []byte) {
	clone := r.Clone(context.Background())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	clone.URL.Scheme, clone.URL.Host = "http", r.Host
	route, params, err := v.router.FindRoute(clone)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checked++
	if err != nil {
		v.problems = append(v.problems, fmt.Sprintf("%s %s: no such operation in the specification: %v", r.Method, r.URL.Path, err))
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request: clone, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		v.problems = append(v.problems, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
	}
}

// Report returns how many requests were checked and what was wrong with them.
func (v *SpecValidator) Report() (checked int, problems []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checked, append([]string(nil), v.problems...)
}
