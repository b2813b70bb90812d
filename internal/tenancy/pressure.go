package tenancy

import (
	"fmt"
	"math"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Level is how full a tenant's quota is.
type Level int

// Levels of quota pressure.
const (
	BelowThresholds Level = iota
	Warning
	Critical
)

// Reasons of the QuotaPressure condition, and of the Events that say a level was entered.
const (
	ReasonQuotaBelowThresholds = "QuotaBelowThresholds"
	ReasonQuotaWarning         = "QuotaWarning"
	ReasonQuotaCritical        = "QuotaCritical"
)

// Hysteresis is how many percentage points below a threshold every resource must fall before
// its level is left: usage that hovers at a threshold does not flap.
const Hysteresis = 5

// Default thresholds, in percent of the quota.
const (
	DefaultWarningPercent  = 80
	DefaultCriticalPercent = 95
)

// Reason is the condition reason of a level.
func (l Level) Reason() string {
	return [...]string{ReasonQuotaBelowThresholds, ReasonQuotaWarning, ReasonQuotaCritical}[l]
}

// LevelOf reads a level back from a condition reason; anything else is BelowThresholds.
func LevelOf(reason string) Level {
	switch reason {
	case ReasonQuotaWarning:
		return Warning
	case ReasonQuotaCritical:
		return Critical
	}
	return BelowThresholds
}

// Thresholds are the warning and critical percentages in effect for a tenant: its Team's, else
// its class's, else the defaults; each percentage on its own.
type Thresholds struct{ Warning, Critical int32 }

// ThresholdsFor resolves a tenant's thresholds from its team and class (either may be nil).
func ThresholdsFor(team *platformv1alpha1.Team, class *platformv1alpha1.TenantClass) Thresholds {
	t := Thresholds{Warning: DefaultWarningPercent, Critical: DefaultCriticalPercent}
	var sources []*platformv1alpha1.QuotaThresholds
	if class != nil {
		sources = append(sources, class.Spec.QuotaPressure)
	}
	if team != nil {
		sources = append(sources, team.Spec.QuotaPressure)
	}
	for _, q := range sources {
		if q == nil {
			continue
		}
		if q.WarningPercent != nil {
			t.Warning = *q.WarningPercent
		}
		if q.CriticalPercent != nil {
			t.Critical = *q.CriticalPercent
		}
	}
	return t
}

// threshold is the percentage at which a level is entered.
func (t Thresholds) threshold(l Level) float64 {
	switch l {
	case Warning:
		return float64(t.Warning)
	case Critical:
		return float64(t.Critical)
	}
	return 0
}

// Pressure is a tenant's quota pressure: its level, each resource's use in percent (rounded
// down), and a message naming the resources at or above the warning threshold.
type Pressure struct {
	Level Level
	// Ratio is each resource's used over hard (1 is full); Percent the same in percent, rounded
	// down.
	Ratio   map[corev1.ResourceName]float64
	Percent map[corev1.ResourceName]int32
	Message string
}

// PressureOf computes the pressure of a quota given the level it had. A level is entered as
// soon as any resource reaches its threshold, and left only when every resource is Hysteresis
// points below it. Resources with a hard limit of zero have no percentage.
func PressureOf(prev Level, hard, used corev1.ResourceList, t Thresholds) Pressure {
	p := Pressure{Ratio: map[corev1.ResourceName]float64{}, Percent: map[corev1.ResourceName]int32{}}
	highest := 0.0
	var over []string
	for name, h := range hard {
		limit := h.AsApproximateFloat64()
		if limit <= 0 {
			continue
		}
		u := used[name]
		p.Ratio[name] = u.AsApproximateFloat64() / limit
		pct := 100 * p.Ratio[name]
		p.Percent[name] = int32(math.Floor(pct))
		highest = max(highest, pct)
		if pct >= float64(t.Warning) {
			over = append(over, fmt.Sprintf("%s at %d %% of %s", name, int32(math.Floor(pct)), h.String()))
		}
	}
	raw := BelowThresholds
	switch {
	case highest >= float64(t.Critical):
		raw = Critical
	case highest >= float64(t.Warning):
		raw = Warning
	}
	p.Level = raw
	for l := prev; l > raw; l-- {
		if highest >= t.threshold(l)-Hysteresis {
			p.Level = l
			break
		}
	}
	sort.Strings(over)
	limits := fmt.Sprintf("warning at %d %%, critical at %d %%", t.Warning, t.Critical)
	switch {
	case len(over) > 0:
		p.Message = strings.Join(over, ", ") + " (" + limits + ")"
	case p.Level > BelowThresholds:
		p.Message = fmt.Sprintf("every resource is below the warning threshold, but less than %d points below the level's (%s)", Hysteresis, limits)
	default:
		p.Message = "every resource is below the warning threshold (" + limits + ")"
	}
	return p
}
