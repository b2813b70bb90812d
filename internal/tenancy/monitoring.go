package tenancy

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Baseline is one of a class's baseline monitors as it applies to a tenant: the template, with
// the tighter of the class's and the tenant's thresholds.
type Baseline struct {
	Name     string
	Template platformv1alpha1.BaselineTemplate
	// Critical is the alert threshold; the monitor alerts above it (at or above it for
	// QuotaCritical), or at or below it when Below.
	Critical float64
	Below    bool
	// Window is the query's evaluation window, for example "10m".
	Window   string
	Priority int64
	// Disrupted says upgrades disrupt it: muted while an upgrade window is open.
	Disrupted bool
}

// template is what a built-in baseline monitor is when the class says nothing more.
type template struct {
	below     bool
	critical  float64
	window    string
	disrupted bool
}

var templates = map[platformv1alpha1.BaselineTemplate]template{
	platformv1alpha1.BaselineCrashLooping:        {critical: 0, window: "10m", disrupted: true},
	platformv1alpha1.BaselineOOMKilled:           {critical: 0, window: "10m"},
	platformv1alpha1.BaselinePodsPending:         {critical: 0, window: "15m", disrupted: true},
	platformv1alpha1.BaselineQuotaCritical:       {window: "5m"}, // critical: the quota pressure threshold
	platformv1alpha1.BaselineNoAvailableReplicas: {below: true, critical: 0, window: "10m", disrupted: true},
}

// tighter says whether a is a stricter threshold than b.
func (b Baseline) tighter(a, than float64) bool {
	if b.Below {
		return a > than
	}
	return a < than
}

// BaselineMonitors returns the class's baseline monitors as they apply to the tenant (team may
// be nil), in the class's order, and the tenant's thresholds that do not apply: looser than
// the class's, or for a monitor the class does not have. Admission refuses those; the
// controller applies the class's threshold in their place and reports them.
func BaselineMonitors(t *platformv1alpha1.TenantNamespace, c *platformv1alpha1.TenantClass, team *platformv1alpha1.Team) ([]Baseline, field.ErrorList) {
	var out []Baseline
	index := map[string]int{}
	if c != nil && c.Spec.Monitoring != nil {
		for _, m := range c.Spec.Monitoring.Baseline {
			tpl, ok := templates[m.Template]
			if !ok {
				continue // the schema allows only the templates above
			}
			b := Baseline{Name: m.Name, Template: m.Template, Critical: tpl.critical, Below: tpl.below, Window: tpl.window, Priority: 3, Disrupted: tpl.disrupted}
			if m.DisruptedByUpgrades != nil {
				b.Disrupted = *m.DisruptedByUpgrades
			}
			if m.Template == platformv1alpha1.BaselineQuotaCritical {
				b.Critical = float64(ThresholdsFor(team, c).Critical) / 100
			}
			if v, err := strconv.ParseFloat(m.Critical, 64); err == nil && m.Critical != "" {
				b.Critical = v
			}
			if m.Window != "" {
				b.Window = m.Window
			}
			if m.Priority != nil {
				b.Priority = int64(*m.Priority)
			}
			index[m.Name] = len(out)
			out = append(out, b)
		}
	}
	if t.Spec.Monitoring == nil {
		return out, nil
	}
	var errs field.ErrorList
	path := field.NewPath("spec", "monitoring", "thresholds")
	for i, th := range t.Spec.Monitoring.Thresholds {
		p := path.Index(i)
		at, ok := index[th.Name]
		if !ok {
			errs = append(errs, field.Invalid(p.Child("name"), th.Name, fmt.Sprintf("class %s has no baseline monitor of this name", className(c))))
			continue
		}
		v, err := strconv.ParseFloat(th.Critical, 64)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("critical"), th.Critical, "must be a decimal"))
			continue
		}
		b := &out[at]
		switch {
		case b.tighter(v, b.Critical) || v == b.Critical:
			b.Critical = v
		default:
			dir := "above"
			if b.Below {
				dir = "below"
			}
			errs = append(errs, field.Invalid(p.Child("critical"), th.Critical, fmt.Sprintf(
				"looser than class %s's %s: a tenant may only tighten a baseline monitor (it alerts %s the threshold)",
				className(c), strconv.FormatFloat(b.Critical, 'f', -1, 64), dir)))
		}
	}
	return out, errs
}

func className(c *platformv1alpha1.TenantClass) string {
	if c == nil {
		return "(none)"
	}
	return c.Name
}

// DisruptedByUpgrades says whether a class has a baseline monitor that upgrades disrupt (muted
// while an upgrade window is open).
func DisruptedByUpgrades(c *platformv1alpha1.TenantClass) bool {
	baseline, _ := BaselineMonitors(&platformv1alpha1.TenantNamespace{}, c, nil)
	for _, b := range baseline {
		if b.Disrupted {
			return true
		}
	}
	return false
}
