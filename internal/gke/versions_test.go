package gke_test

import (
	"context"
	"testing"
	"time"

	"github.com/selfserve-dev/selfserve/internal/gke"
)

// TestVersionsAndWhenTheyChanged reads an upstream's versions through the container client: a
// cluster as it was created (since its creation), an upgrade whose node pools lag (the lowest
// version is what the whole cluster runs), a finished upgrade (since its last operation, of
// this cluster only), and an upgrade GKE no longer lists (unknown: zero).
func TestVersionsAndWhenTheyChanged(t *testing.T) {
	ctx := context.Background()
	name := gke.ClusterName("acme-staging-42", "europe-west1", "staging")
	other := gke.ClusterName("acme-staging-42", "europe-west1", "staging-2")
	c, fake := clientOf(t, name)
	fake.AddCluster(other)
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	fake.SetClock(func() time.Time { return now })
	fake.SetVersions(name, "1.37.4-gke.1200", "1.37.4-gke.1200", "1.37.4-gke.1200")
	fake.SetVersions(other, "1.37.4-gke.1200", "1.37.4-gke.1200")
	read := func() gke.Versions {
		t.Helper()
		v, err := c.Versions(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	created := now
	if v := read(); v.Lowest != "1.37.4-gke.1200" || !v.Since.Equal(created) {
		t.Errorf("as created: %+v, want 1.37.4-gke.1200 since %s", v, created)
	}

	now = now.Add(24 * time.Hour)
	fake.UpgradeMaster(name, "1.38.1-gke.1100")
	if v := read(); v.Master != "1.38.1-gke.1100" || v.Lowest != "1.37.4-gke.1200" || !v.Since.Equal(now) {
		t.Errorf("nodes lagging: %+v, want the lowest 1.37.4-gke.1200", v)
	}
	now = now.Add(6 * time.Hour)
	fake.Upgrade(name, "1.38.1-gke.1100")
	upgraded := now
	now = now.Add(time.Hour)
	fake.Upgrade(other, "1.38.2-gke.100") // another cluster of the location: not this one's
	if v := read(); v.Lowest != "1.38.1-gke.1100" || !v.Since.Equal(upgraded) {
		t.Errorf("upgraded: %+v, want 1.38.1-gke.1100 since %s", v, upgraded)
	}

	fake.ForgetOperations()
	if v := read(); v.Lowest != "1.38.1-gke.1100" || !v.Since.IsZero() {
		t.Errorf("operations forgotten: %+v, want no since", v)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b        string
		want, minor int
	}{
		{"1.38.1-gke.1100", "v1.37.2", 1, 1},
		{"1.37.4-gke.1200", "v1.37.2", 1, 0},
		{"1.37.2-gke.100", "1.37.2-gke.1200", -1, 0},
		{"1.9.0", "1.10.0", -1, -1},
		{"v1.37.2", "1.37.2", 0, 0},
		{"", "1.37.2", -1, -1},
	} {
		if got := gke.CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := gke.CompareMinors(tt.a, tt.b); got != tt.minor {
			t.Errorf("CompareMinors(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.minor)
		}
	}
}
