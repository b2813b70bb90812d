package testutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Mod changes an object given as a JSON-like map.
type Mod func(obj map[string]any)

// FromYAML decodes one manifest and applies mods to it.
func FromYAML(t testing.TB, manifest string, mods ...Mod) *unstructured.Unstructured {
	t.Helper()
	obj := map[string]any{}
	if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
		t.Fatalf("decoding manifest: %v", err)
	}
	for _, m := range mods {
		m(obj)
	}
	return &unstructured.Unstructured{Object: obj}
}

// Set sets the value at a dotted path such as "spec.objectives[0].target", creating maps on
// the way. The value is given as YAML so that lists and maps read like a manifest.
func Set(path, valueYAML string) Mod {
	return func(obj map[string]any) {
		var v any
		if err := yaml.Unmarshal([]byte(valueYAML), &v); err != nil {
			panic(fmt.Sprintf("value for %s: %v", path, err))
		}
		parent, last := walk(obj, path)
		assign(parent, last, v)
	}
}

// Delete removes the value at a dotted path.
func Delete(path string) Mod {
	return func(obj map[string]any) {
		parent, last := walk(obj, path)
		if m, ok := parent.(map[string]any); ok {
			delete(m, last)
		}
	}
}

// walk returns the container holding the last element of path, creating maps as needed.
func walk(obj map[string]any, path string) (parent any, last string) {
	parts := splitPath(path)
	var cur any = obj
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[p]
			if !ok {
				next = map[string]any{}
				c[p] = next
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(c) {
				panic(fmt.Sprintf("bad index %q in %s", p, path))
			}
			cur = c[i]
		default:
			panic(fmt.Sprintf("cannot walk into %T at %q of %s", cur, p, path))
		}
	}
	return cur, parts[len(parts)-1]
}

func assign(parent any, key string, v any) {
	switch c := parent.(type) {
	case map[string]any:
		c[key] = v
	case []any:
		i, err := strconv.Atoi(key)
		if err != nil || i >= len(c) {
			panic(fmt.Sprintf("bad index %q", key))
		}
		c[i] = v
	default:
		panic(fmt.Sprintf("cannot assign into %T", parent))
	}
}

// splitPath turns "a.b[0].c" into ["a", "b", "0", "c"].
func splitPath(path string) []string {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	return strings.Split(path, ".")
}

// ReadManifests decodes every document of a multi-document YAML file.
func ReadManifests(t testing.TB, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---") {
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(obj) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: obj})
	}
	return objs
}
