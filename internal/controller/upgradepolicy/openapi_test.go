package upgradepolicy_test

import (
	"testing"

	"github.com/selfserve-dev/selfserve/test/datadogfake"
)

// TestEveryRequestMatchesDatadogsOpenAPI runs after the tests of the package that reach Datadog
// (files run in name order) and checks that every request the operator sent them — the gates'
// reads, the downtimes' creates, reads, updates and cancels — is valid against Datadog's OpenAPI
// specification.
func TestEveryRequestMatchesDatadogsOpenAPI(t *testing.T) { datadogfake.CheckEveryRequest(t, spec) }
