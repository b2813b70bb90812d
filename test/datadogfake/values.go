package datadogfake

import "slices"

// Helpers for the JSON-shaped maps the fake stores.

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func num(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func setDefault(m map[string]any, key string, v any) {
	if _, ok := m[key]; !ok || m[key] == nil && v != nil {
		m[key] = v
	}
}

// sortTags sorts the tags, as Datadog returns them.
func sortTags(m map[string]any) {
	tags := strs(m["tags"])
	slices.Sort(tags)
	out := make([]any, len(tags))
	for i, t := range tags {
		out[i] = t
	}
	m["tags"] = out
}

func allIn(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// orEmpty makes a nil list encode as [] rather than null.
func orEmpty(items []any) []any {
	if items == nil {
		return []any{}
	}
	return items
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}
