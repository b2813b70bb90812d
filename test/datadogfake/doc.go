// Package datadogfake is an in-memory stand-in for the parts of Datadog's v1 API that selfserve
// uses: service level objectives and monitors. It answers as the real service does — ID
// formats, response envelopes, {"errors": [...]} bodies, 403 without keys, 404s, 429 with
// X-RateLimit-* headers, pagination and tag filters — so the real datadog-api-client-go SDK can
// talk to it. Its answers are checked against recorded real traffic in conformance_test.go.
//
// Tests start it with httptest; `make run` serves it on a local port.
package datadogfake
