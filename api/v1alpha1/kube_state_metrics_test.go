package v1alpha1_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
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
			case target.Type == "object":
				// kube-state-metrics looks for valueFrom in every field of the object as well, so
				// a nested field of that name becomes a second series: name the field in path.
				t.Errorf("%s: path %v leads to an object; name the field itself in path", where, g.Path)
				continue
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

// TestKubeStateMetricsExportsEachSeriesOnce evaluates the config, as kube-state-metrics reads
// it (a gauge over an object looks for its valueFrom in every field of the object too), on an
// object of each kind with every status field set: every metric exports at least one series,
// a scalar one exactly one, and no two series of a metric carry the same labels.
func TestKubeStateMetricsExportsEachSeriesOnce(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := testutil.LoadKSMConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	four, now := int32(4), metav1.Now()
	q := resource.MustParse
	conds := []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: now},
		{Type: "QuotaReady", Status: metav1.ConditionFalse, Reason: "ApplyFailed", LastTransitionTime: now}}
	quota := corev1.ResourceList{corev1.ResourceRequestsCPU: q("8"), corev1.ResourceRequestsMemory: q("16Gi")}
	objects := map[string]any{
		"Team": &platformv1alpha1.Team{Status: platformv1alpha1.TeamStatus{Conditions: conds, Namespaces: 2, Waiting: 1, Quota: quota,
			BudgetLeft: &platformv1alpha1.BudgetLeft{Namespaces: &four, Quota: quota}}},
		"TenantClass": &platformv1alpha1.TenantClass{Status: platformv1alpha1.TenantClassStatus{Conditions: conds, Tenants: 3}},
		"TenantNamespace": &platformv1alpha1.TenantNamespace{Spec: platformv1alpha1.TenantNamespaceSpec{Team: "payments"},
			Status: platformv1alpha1.TenantNamespaceStatus{Conditions: conds, Class: "standard",
				Quota: &platformv1alpha1.QuotaUsage{Hard: quota, Used: quota, UsedPercent: map[corev1.ResourceName]int32{corev1.ResourceRequestsCPU: 50}, Updated: &now}}},
		"ServiceSLO": &platformv1alpha1.ServiceSLO{Status: platformv1alpha1.ServiceSLOStatus{Conditions: conds, BudgetState: "ok",
			ErrorBudget: []platformv1alpha1.ErrorBudget{{Timeframe: "30d", Remaining: "51.2", SLI: "99.95", State: "ok"}, {Timeframe: "7d", Remaining: "80", SLI: "99.99", State: "ok"}}}},
		"ClusterUpgradePolicy": &platformv1alpha1.ClusterUpgradePolicy{Status: platformv1alpha1.ClusterUpgradePolicyStatus{Conditions: conds,
			NextWindow: &platformv1alpha1.TimeWindow{Start: now, End: &now}}},
	}
	for kind, typed := range objects {
		res, ok := cfg.Resource(kind)
		if !ok {
			t.Errorf("no config for %s", kind)
			continue
		}
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
		if err != nil {
			t.Fatal(err)
		}
		series := res.Series(obj)
		for _, m := range res.Metrics {
			name := res.MetricNamePrefix + "_" + m.Name
			scalar := m.Each.Type == "Gauge" && m.Each.Gauge.LabelFromKey == "" && !slices.Contains([]string{"conditions", "errorBudget"}, m.Each.Gauge.Path[len(m.Each.Gauge.Path)-1])
			switch {
			case series[name] == 0:
				t.Errorf("%s: no %s series", kind, name)
			case scalar && series[name] != 1:
				t.Errorf("%s: %d %s series, want 1 (%v)", kind, series[name], name, res.SeriesLabels(obj)[name])
			}
		}
		if dup := res.Duplicates(obj); len(dup) > 0 {
			t.Errorf("%s: series with the same labels: %v", kind, dup)
		}
	}
}
