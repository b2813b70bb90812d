package testutil

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// KSMConfig is the part of kube-state-metrics' CustomResourceState format that
// config/kube-state-metrics uses.
type KSMConfig struct {
	Kind string `json:"kind"`
	Spec struct {
		Resources []KSMResource `json:"resources"`
	} `json:"spec"`
}

// KSMResource is the configuration of one kind.
type KSMResource struct {
	GroupVersionKind struct{ Group, Version, Kind string } `json:"groupVersionKind"`
	MetricNamePrefix string                                `json:"metricNamePrefix"`
	LabelsFromPath   map[string][]string                   `json:"labelsFromPath"`
	Metrics          []KSMMetric                           `json:"metrics"`
}

// KSMMetric is one metric of a kind: a gauge or a state set.
type KSMMetric struct {
	Name string `json:"name"`
	Help string `json:"help"`
	Each struct {
		Type  string `json:"type"`
		Gauge struct {
			Path           []string            `json:"path"`
			LabelsFromPath map[string][]string `json:"labelsFromPath"`
			ValueFrom      []string            `json:"valueFrom"`
			LabelFromKey   string              `json:"labelFromKey"`
		} `json:"gauge"`
		StateSet struct {
			Path      []string `json:"path"`
			ValueFrom []string `json:"valueFrom"`
			LabelName string   `json:"labelName"`
			List      []string `json:"list"`
		} `json:"stateSet"`
	} `json:"each"`
}

// LoadKSMConfig reads config/kube-state-metrics/custom-resource-state.yaml, strictly.
func LoadKSMConfig(root string) (KSMConfig, error) {
	var cfg KSMConfig
	data, err := os.ReadFile(filepath.Join(root, "config", "kube-state-metrics", "custom-resource-state.yaml"))
	if err != nil {
		return cfg, err
	}
	return cfg, yaml.UnmarshalStrict(data, &cfg)
}

// Resource returns the configuration of a kind.
func (c KSMConfig) Resource(kind string) (KSMResource, bool) {
	i := slices.IndexFunc(c.Spec.Resources, func(r KSMResource) bool { return r.GroupVersionKind.Kind == kind })
	if i < 0 {
		return KSMResource{}, false
	}
	return c.Spec.Resources[i], true
}

// Series counts, metric by metric, the series kube-state-metrics would export for one object
// (its JSON decoded), following the format's rules: a gauge's path may lead to a list (a series
// per item), a map with labelFromKey (a series per key) or an object; its value must be a
// number, a quantity or a condition status (True 1, False 0); a state set's value must be one of
// its states, and gives a series per state. A path that leads nowhere, or a value that is not a
// number, gives no series — what kube-state-metrics logs as an error.
func (r KSMResource) Series(obj map[string]any) map[string]int {
	out := map[string]int{}
	for _, m := range r.Metrics {
		name := r.MetricNamePrefix + "_" + m.Name
		if m.Each.Type == "StateSet" {
			ss := m.Each.StateSet
			if v, ok := walkPath(obj, append(slices.Clone(ss.Path), ss.ValueFrom...)).(string); ok && slices.Contains(ss.List, v) {
				out[name] = len(ss.List)
			}
			continue
		}
		g := m.Each.Gauge
		at := walkPath(obj, g.Path)
		switch v := at.(type) {
		case []any:
			for _, item := range v {
				if numeric(walkPath(item, g.ValueFrom)) {
					out[name]++
				}
			}
		case map[string]any:
			if g.LabelFromKey != "" {
				for _, x := range v {
					if numeric(x) {
						out[name]++
					}
				}
			} else if numeric(walkPath(v, g.ValueFrom)) {
				out[name]++
			}
		}
	}
	return out
}

func walkPath(v any, path []string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func numeric(v any) bool {
	switch x := v.(type) {
	case float64, int64, bool:
		return true
	case string:
		if x == "True" || x == "False" {
			return true
		}
		if _, err := strconv.ParseFloat(x, 64); err == nil {
			return true
		}
		if _, err := time.Parse(time.RFC3339, x); err == nil {
			return true // a timestamp, exported in Unix seconds
		}
		_, err := resource.ParseQuantity(x)
		return err == nil
	}
	return false
}
