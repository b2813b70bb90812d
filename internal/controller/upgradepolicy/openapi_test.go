package upgradepolicy_test

import "testing"

// TestEveryRequestMatchesDatadogsOpenAPI runs after the tests of the package that reach Datadog
// (files run in name order) and checks that every request the operator sent them — the gates'
// reads, the downtimes' creates, reads, updates and cancels — is valid against Datadog's OpenAPI
// specification.
func TestEveryRequestMatchesDatadogsOpenAPI(t *testing.T) {
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
