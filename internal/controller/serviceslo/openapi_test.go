package serviceslo_test

import (
	"testing"

	"github.com/selfserve-dev/selfserve/test/datadogfake"
)

// TestEveryRequestMatchesDatadogsOpenAPI runs after the other tests of the package (files run in
// name order) and checks that every request the operator sent them — creates, updates, deletes,
// lists, searches — is valid against Datadog's OpenAPI specification.
func TestEveryRequestMatchesDatadogsOpenAPI(t *testing.T) { datadogfake.CheckEveryRequest(t, spec) }
