package tenancy

import (
	"slices"
	"strings"
)

// Host names as Ingress and the Gateway API routes give them: lower-case DNS names, the
// leftmost label possibly "*". A wildcard "*.d" stands for every name under d, at any depth:
// an ingress controller may match only one label, but for ownership the whole subtree is
// taken, so nothing under a wildcard is left for another team.

// wildcardParent returns d for a wildcard "*.d".
func wildcardParent(host string) (string, bool) {
	return strings.CutPrefix(host, "*.")
}

// Covers reports whether a Team's host pattern includes host: the same name, or, for a
// pattern "*.d", any name under d and any wildcard at or under "*.d". A pattern "*.d" does not
// cover d itself.
func Covers(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	parent, wild := wildcardParent(pattern)
	if !wild {
		return pattern == host
	}
	if hp, ok := wildcardParent(host); ok {
		return hp == parent || strings.HasSuffix(hp, "."+parent)
	}
	return strings.HasSuffix(host, "."+parent)
}

// HostOwned reports whether one of the patterns covers host.
func HostOwned(patterns []string, host string) bool {
	for _, p := range patterns {
		if Covers(p, host) {
			return true
		}
	}
	return false
}

// parents returns the names above name: for "a.b.c", "b.c" and "c".
func parents(name string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(name, ".")
		if !ok {
			return out
		}
		out = append(out, rest)
		name = rest
	}
}

// ClaimKeys are the index keys under which an object that serves host is found: "host:h" for
// the name itself, "wild:d" for a wildcard "*.d", and "under:p" for every name p it lies under.
func ClaimKeys(host string) []string {
	host = strings.ToLower(host)
	if d, ok := wildcardParent(host); ok {
		keys := []string{"wild:" + d, "under:" + d}
		for _, p := range parents(d) {
			keys = append(keys, "under:"+p)
		}
		return keys
	}
	keys := []string{"host:" + host}
	for _, p := range parents(host) {
		keys = append(keys, "under:"+p)
	}
	return keys
}

// ConflictKeys are the index keys of every claim that overlaps host: for a name, the same name
// and every wildcard above it; for a wildcard "*.d", everything under d and every wildcard
// above it.
func ConflictKeys(host string) []string {
	host = strings.ToLower(host)
	var keys []string
	name := host
	if d, ok := wildcardParent(host); ok {
		keys, name = append(keys, "under:"+d), d
	} else {
		keys = append(keys, "host:"+host)
	}
	for _, p := range parents(name) {
		keys = append(keys, "wild:"+p)
	}
	return keys
}

// HostsOverlap reports whether two hosts or patterns share a name: the same name, or one a
// wildcard over the other.
func HostsOverlap(a, b string) bool {
	claims := ClaimKeys(b)
	for _, k := range ConflictKeys(a) {
		if slices.Contains(claims, k) {
			return true
		}
	}
	return false
}
