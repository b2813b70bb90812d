package tenancy_test

import (
	"testing"

	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

func TestHostPatternsCover(t *testing.T) {
	for _, c := range []struct {
		pattern, host string
		want          bool
	}{
		{"pay.example.com", "pay.example.com", true},
		{"pay.example.com", "api.pay.example.com", false},
		{"*.pay.example.com", "api.pay.example.com", true},
		{"*.pay.example.com", "v1.api.pay.example.com", true},
		{"*.pay.example.com", "pay.example.com", false},
		{"*.pay.example.com", "*.pay.example.com", true},
		{"*.pay.example.com", "*.api.pay.example.com", true},
		{"*.pay.example.com", "*.example.com", false},
		{"*.pay.example.com", "evilpay.example.com", false},
		{"*.pay.example.com", "x.evilpay.example.com", false},
		{"*.Pay.example.com", "API.pay.example.com", true},
	} {
		if got := tenancy.Covers(c.pattern, c.host); got != c.want {
			t.Errorf("Covers(%q, %q) = %t, want %t", c.pattern, c.host, got, c.want)
		}
	}
}

// TestHostClaimsOverlap: two hosts overlap exactly when one's conflict keys meet the other's
// claim keys, whichever is asked about first.
func TestHostClaimsOverlap(t *testing.T) {
	overlaps := tenancy.HostsOverlap
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"pay.example.com", "pay.example.com", true},
		{"pay.example.com", "*.example.com", true},
		{"a.b.example.com", "*.example.com", true},
		{"*.b.example.com", "*.example.com", true},
		{"*.example.com", "*.example.com", true},
		{"*.example.com", "example.com", false},
		{"pay.example.com", "api.pay.example.com", false},
		{"*.pay.example.com", "*.search.example.com", false},
		{"*.pay.example.com", "pay.example.com", false},
		{"pay.example.com", "search.example.com", false},
	} {
		if got := overlaps(c.a, c.b); got != c.want {
			t.Errorf("overlap(%q asked, %q claimed) = %t, want %t", c.a, c.b, got, c.want)
		}
		if got := overlaps(c.b, c.a); got != c.want {
			t.Errorf("overlap(%q asked, %q claimed) = %t, want %t", c.b, c.a, got, c.want)
		}
	}
}
