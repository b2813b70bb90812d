package v1alpha1_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/testutil"
)

// TestKubeStateMetricsConfigNamesFieldsTheCRDsHave checks config/kube-state-metrics against
// the CRD schemas: every kind exists, and every path (labels, gauges, values) leads to a field
// of the right shape, so a renamed field cannot silently turn a metric off.
func TestKubeStateMetricsConfigNamesFieldsTheCRDsHave(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := testutil.LoadKSMConfig(root)
	if err != nil {
		t.Fatalf("decoding the config: %v", err)
	}
	if cfg.Kind != "CustomResourceStateMetrics" {
		t.Errorf("kind %q, want CustomResourceStateMetrics", cfg.Kind)
	}
	schemas := map[string]*apiextensionsv1.JSONSchemaProps{}
	files, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		for _, v := range crd.Spec.Versions {
			schemas[crd.Spec.Group+"/"+v.Name+"/"+crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
		}
	}

	covered := map[string]bool{}
	for _, r := range cfg.Spec.Resources {
		gvk := r.GroupVersionKind.Group + "/" + r.GroupVersionKind.Version + "/" + r.GroupVersionKind.Kind
		schema, ok := schemas[gvk]
		if !ok {
			t.Errorf("%s is not a CRD of the project", gvk)
			continue
		}
		covered[gvk] = true
		if !strings.HasPrefix(r.MetricNamePrefix, "selfserve_") {
			t.Errorf("%s: metric prefix %q, want selfserve_<kind>", gvk, r.MetricNamePrefix)
		}
		for label, path := range r.LabelsFromPath {
			if s := lookup(t, schema, path); s != nil && s.Type != "string" {
				t.Errorf("%s label %s: %v is a %s, not a string", gvk, label, path, s.Type)
			}
		}
		hasReady := false
		for _, m := range r.Metrics {
			where := gvk + " metric " + m.Name
			if m.Each.Type == "StateSet" {
				// A state set names every value the field can take: the field's enum, exactly.
				ss := m.Each.StateSet
				field := lookup(t, schema, append(slices.Clone(ss.Path), ss.ValueFrom...))
				if m.Help == "" || ss.LabelName == "" || field == nil {
					t.Errorf("%s: want a help text, a label name and a field at %v", where, append(ss.Path, ss.ValueFrom...))
					continue
				}
				var enum []string
				for _, e := range field.Enum {
					enum = append(enum, strings.Trim(string(e.Raw), `"`))
				}
				if !slices.Equal(enum, ss.List) {
					t.Errorf("%s: states %v, but the field takes %v", where, ss.List, enum)
				}
				continue
			}
			if m.Help == "" || m.Each.Type != "Gauge" {
				t.Errorf("%s: want a help text and type Gauge", where)
			}
			g := m.Each.Gauge
			target := lookup(t, schema, g.Path)
			if target == nil {
				t.Errorf("%s: no field %v", where, g.Path)
				continue
			}
			switch {
			case g.LabelFromKey != "":
				if target.Type != "object" || target.AdditionalProperties == nil {
					t.Errorf("%s: %v is not a map, so labelFromKey has no keys", where, g.Path)
				}
				continue
			case target.Type == "array":
				target = target.Items.Schema
			}
			for label, path := range g.LabelsFromPath {
				if lookup(t, target, path) == nil {
					t.Errorf("%s label %s: no field %v under %v", where, label, path, g.Path)
				}
			}
			if lookup(t, target, g.ValueFrom) == nil {
				t.Errorf("%s: no value field %v under %v", where, g.ValueFrom, g.Path)
			}
			if strings.Join(g.Path, ".") == "status.conditions" {
				hasReady = true
			}
		}
		if !hasReady {
			t.Errorf("%s: its conditions are not exported", gvk)
		}
	}
	for gvk := range schemas {
		if !covered[gvk] {
			t.Errorf("%s has no metrics in the config", gvk)
		}
	}
}

// lookup follows path through a schema; metadata is the standard ObjectMeta, which CRD
// schemas leave open.
func lookup(t *testing.T, s *apiextensionsv1.JSONSchemaProps, path []string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	for i, p := range path {
		if s == nil {
			return nil
		}
		if i == 0 && p == "metadata" && len(path) == 2 && (path[1] == "name" || path[1] == "namespace") {
			return &apiextensionsv1.JSONSchemaProps{Type: "string"}
		}
		next, ok := s.Properties[p]
		if !ok {
			return nil
		}
		s = &next
	}
	return s
}
