package testutil

import (
	"fmt"
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
// (its JSON decoded); SeriesLabels lists their label sets.
func (r KSMResource) Series(obj map[string]any) map[string]int {
	out := map[string]int{}
	for name, series := range r.SeriesLabels(obj) {
		out[name] = len(series)
	}
	return out
}

// SeriesLabels lists, metric by metric, the label sets (beyond the kind's own labelsFromPath) of
// the series kube-state-metrics v2.18 exports for one object, following its code
// (pkg/customresourcestate): a gauge's path may lead to
//   - a list: a series per item, its value at valueFrom;
//   - a map: a series per key whose value holds a number at valueFrom — or, when valueFrom is
//     that one key, the key's own value; so a path to status with valueFrom [namespaces] also
//     finds status.budgetLeft.namespaces, a second series with the same labels. labelFromKey
//     labels each series with its key;
//   - anything else: one series, its value at valueFrom.
//
// A value must be a number, a quantity, a boolean, a condition status or a timestamp; anything
// else gives no series (kube-state-metrics logs an error). A state set's value must be one of
// its states, and gives a series per state.
func (r KSMResource) SeriesLabels(obj map[string]any) map[string][]map[string]string {
	out := map[string][]map[string]string{}
	for _, m := range r.Metrics {
		name := r.MetricNamePrefix + "_" + m.Name
		if m.Each.Type == "StateSet" {
			ss := m.Each.StateSet
			if v, ok := walkPath(obj, append(slices.Clone(ss.Path), ss.ValueFrom...)).(string); ok && slices.Contains(ss.List, v) {
				for _, state := range ss.List {
					out[name] = append(out[name], map[string]string{ss.LabelName: state})
				}
			}
			continue
		}
		g := m.Each.Gauge
		at := walkPath(obj, g.Path)
		switch v := at.(type) {
		case []any:
			for _, item := range v {
				if numeric(walkPath(item, g.ValueFrom)) {
					out[name] = append(out[name], pathLabels(g.LabelsFromPath, item))
				}
			}
		case map[string]any:
			for key, child := range v {
				value := walkPath(child, g.ValueFrom)
				if len(g.ValueFrom) == 1 && key == g.ValueFrom[0] {
					value = child
				}
				if !numeric(value) {
					continue
				}
				labels := pathLabels(g.LabelsFromPath, child)
				for k, l := range pathLabels(g.LabelsFromPath, v) {
					labels[k] = l
				}
				if g.LabelFromKey != "" {
					labels[g.LabelFromKey] = key
				}
				out[name] = append(out[name], labels)
			}
		default:
			if numeric(walkPath(v, g.ValueFrom)) {
				out[name] = append(out[name], pathLabels(g.LabelsFromPath, v))
			}
		}
	}
	return out
}

// Duplicates names the metrics with two series of the same labels, which Prometheus cannot
// tell apart (the second one is dropped or overwrites the first).
func (r KSMResource) Duplicates(obj map[string]any) []string {
	var dup []string
	for name, series := range r.SeriesLabels(obj) {
		seen := map[string]bool{}
		for _, labels := range series {
			key := fmt.Sprint(labels) // fmt prints maps sorted by key
			if seen[key] {
				dup = append(dup, name)
				break
			}
			seen[key] = true
		}
	}
	slices.Sort(dup)
	return dup
}

// pathLabels resolves labelsFromPath under v; a path that leads nowhere gives no label.
func pathLabels(paths map[string][]string, v any) map[string]string {
	out := map[string]string{}
	for label, path := range paths {
		if x := walkPath(v, path); x != nil {
			out[label] = fmt.Sprint(x)
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
