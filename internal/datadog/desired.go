package datadog

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// SLO is an SLO as selfserve describes and compares it, in its own terms: what the spec asks
// for, and what Datadog holds, read back the same way. Two SLOs that are equal need no update.
type SLO struct {
	Name, Description, Type string
	// Tags are lower case and sorted, as Datadog returns them.
	Tags []string
	// Thresholds are sorted by timeframe.
	Thresholds             []Threshold
	Numerator, Denominator string
	MonitorIDs             []int64
	TimeSlice              *TimeSlice
}

// Threshold is an objective of an SLO.
type Threshold struct {
	Timeframe string
	Target    float64
	Warning   *float64
}

// TimeSlice is the condition of a time-slice SLO.
type TimeSlice struct {
	Query, Comparator string
	Threshold         float64
	IntervalSeconds   int64
}

// Monitor is a monitor as selfserve describes and compares it: a burn-rate monitor of a
// ServiceSLO, or a baseline monitor of a tenant namespace.
type Monitor struct {
	// Tier tells a CR's monitors apart and is also a tag: the burn-rate tier, for example
	// "14.4x-1h-5m", or the name of the class's baseline monitor.
	Tier string
	// Type is Datadog's monitor type: "slo alert" or "query alert".
	Type                 string
	Name, Query, Message string
	Tags                 []string
	Priority             int64
	Critical             float64
	// Renotify is the renotification interval in minutes, 0 for none.
	Renotify int64
}

// Tier is one burn-rate alert of a ServiceSLO.
type Tier struct {
	BurnRate    float64
	Long, Short string
	Severity    string
}

// Name identifies the tier in tags and status: "14.4x-1h-5m".
func (t Tier) Name() string {
	return strconv.FormatFloat(t.BurnRate, 'f', -1, 64) + "x-" + t.Long + "-" + t.Short
}

// recommendedTiers are Datadog's recommended multi-window burn-rate alerts per timeframe: two
// that page (fast and slow burn) and one that opens a ticket.
var recommendedTiers = map[platformv1alpha1.Timeframe][]Tier{
	"7d":  {{16.8, "1h", "5m", "page"}, {5.6, "6h", "30m", "page"}, {2.8, "24h", "2h", "ticket"}},
	"30d": {{14.4, "1h", "5m", "page"}, {6, "6h", "30m", "page"}, {3, "24h", "2h", "ticket"}},
	"90d": {{21.6, "1h", "5m", "page"}, {10.8, "6h", "30m", "page"}, {4.5, "24h", "2h", "ticket"}},
}

// alertObjective is the objective the burn rate is measured against.
func alertObjective(s *platformv1alpha1.ServiceSLO) platformv1alpha1.Objective {
	tf := s.Spec.Objectives[0].Timeframe
	if s.Spec.Alerting != nil && s.Spec.Alerting.Timeframe != "" {
		tf = s.Spec.Alerting.Timeframe
	}
	for _, o := range s.Spec.Objectives {
		if o.Timeframe == tf {
			return o
		}
	}
	return s.Spec.Objectives[0]
}

// Tiers returns the burn-rate tiers of a ServiceSLO: its own, or the recommended ones for the
// timeframe, minus recommended tiers above 1/(1-target) (their alert could never fire before
// the budget is gone); skipped names those dropped.
func Tiers(s *platformv1alpha1.ServiceSLO) (out []Tier, skipped []string) {
	obj := alertObjective(s)
	if s.Spec.Alerting != nil && len(s.Spec.Alerting.Tiers) > 0 {
		for _, t := range s.Spec.Alerting.Tiers {
			rate, _ := strconv.ParseFloat(t.BurnRate, 64)
			out = append(out, Tier{BurnRate: rate, Long: t.LongWindow, Short: t.ShortWindow, Severity: cmpOr(t.Severity, "page")})
		}
		return out, nil
	}
	target, _ := strconv.ParseFloat(obj.Target, 64)
	ceiling := 100 / (100 - target)
	for _, t := range recommendedTiers[obj.Timeframe] {
		if t.BurnRate > ceiling {
			skipped = append(skipped, t.Name())
			continue
		}
		out = append(out, t)
	}
	return out, skipped
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// sloName is the SLO's name in Datadog: unique per CR, readable in Datadog's UI.
func sloName(s *platformv1alpha1.ServiceSLO) string {
	return fmt.Sprintf("%s (%s/%s)", s.Spec.Service, s.Namespace, s.Name)
}

// tagsFor are the tags of every object of a ServiceSLO, lower case as Datadog stores them (a
// tag sent as Env:Prod is read back as env:prod, and must not look like drift at every poll).
func tagsFor(s *platformv1alpha1.ServiceSLO, team, clusterName string) []string {
	tags := append([]string{
		"team:" + team, "service:" + s.Spec.Service, TagManaged, TagUIDPrefix + string(s.UID),
	}, s.Spec.Tags...)
	if clusterName != "" {
		tags = append(tags, TagClusterNamePrefix+clusterName)
	}
	for i, t := range tags {
		tags[i] = strings.ToLower(t)
	}
	sort.Strings(tags)
	return slices.Compact(tags)
}

// DesiredSLO is the SLO the ServiceSLO describes, for its team, in the cluster named
// clusterName (tagged cluster:<name>; no tag when empty).
func DesiredSLO(s *platformv1alpha1.ServiceSLO, team, clusterName string) SLO {
	out := SLO{Name: sloName(s), Description: s.Spec.Description, Tags: tagsFor(s, team, clusterName), Type: string(datadogV1.SLOTYPE_METRIC)}
	for _, o := range s.Spec.Objectives {
		th := Threshold{Timeframe: string(o.Timeframe)}
		th.Target, _ = strconv.ParseFloat(o.Target, 64)
		if o.Warning != nil {
			w, _ := strconv.ParseFloat(*o.Warning, 64)
			th.Warning = &w
		}
		out.Thresholds = append(out.Thresholds, th)
	}
	sortThresholds(out.Thresholds)
	ind := s.Spec.Indicator
	switch {
	case ind.Metric != nil:
		out.Numerator, out.Denominator = ind.Metric.Good, ind.Metric.Total
	case ind.Monitors != nil:
		out.Type = string(datadogV1.SLOTYPE_MONITOR)
		out.MonitorIDs = ind.Monitors.IDs
	case ind.TimeSlice != nil:
		out.Type = string(datadogV1.SLOTYPE_TIME_SLICE)
		ts := &TimeSlice{Query: ind.TimeSlice.Query, Comparator: ind.TimeSlice.Comparator, IntervalSeconds: 300}
		ts.Threshold, _ = strconv.ParseFloat(ind.TimeSlice.Threshold, 64)
		if ind.TimeSlice.Interval == "1m" {
			ts.IntervalSeconds = 60
		}
		out.TimeSlice = ts
	}
	return out
}

func sortThresholds(ths []Threshold) {
	sort.Slice(ths, func(i, j int) bool { return ths[i].Timeframe < ths[j].Timeframe })
}

// DesiredMonitor is a tier's burn-rate monitor on the SLO sloID. It notifies the ServiceSLO's
// handles, or the team's default handles when it names none. It carries the SLO's tags.
func DesiredMonitor(s *platformv1alpha1.ServiceSLO, team, clusterName, sloID string, t Tier, teamNotify []string) Monitor {
	obj := alertObjective(s)
	priority := int64(2)
	notify := teamNotify
	var renotify int64
	if a := s.Spec.Alerting; a != nil {
		if a.Priority != nil {
			priority = int64(*a.Priority)
		}
		if len(a.Notify) > 0 {
			notify = a.Notify
		}
		if a.RenotifyInterval != "" {
			if d, err := time.ParseDuration(a.RenotifyInterval); err == nil {
				renotify = int64(d / time.Minute)
			}
		}
	}
	if t.Severity == "ticket" {
		priority = min(priority+1, 5)
	}
	rate := strconv.FormatFloat(t.BurnRate, 'f', -1, 64)
	msg := fmt.Sprintf("Service %s (team %s) is burning the %s error budget of SLO %q %s times faster than sustainable over the last %s and %s (severity: %s). The ServiceSLO is %s/%s.",
		s.Spec.Service, team, obj.Timeframe, sloName(s), rate, t.Long, t.Short, t.Severity, s.Namespace, s.Name)
	if len(notify) > 0 {
		msg += "\n" + strings.Join(notify, " ")
	}
	tags := append(tagsFor(s, team, clusterName), TagTierPrefix+t.Name(), "severity:"+t.Severity)
	sort.Strings(tags)
	return Monitor{
		Tier:     t.Name(),
		Type:     string(datadogV1.MONITORTYPE_SLO_ALERT),
		Name:     fmt.Sprintf("%s burn rate %s over %s/%s (%s)", s.Spec.Service, rate, t.Long, t.Short, obj.Timeframe),
		Query:    burnRateQuery(sloID, obj.Timeframe, t),
		Message:  msg,
		Tags:     tags,
		Priority: priority,
		Critical: t.BurnRate,
		Renotify: renotify,
	}
}

// burnRateQuery is the query of a burn-rate monitor.
func burnRateQuery(sloID string, tf platformv1alpha1.Timeframe, t Tier) string {
	return fmt.Sprintf(`burn_rate("%s").over("%s").long_window("%s").short_window("%s") > %s`,
		sloID, tf, t.Long, t.Short, strconv.FormatFloat(t.BurnRate, 'f', -1, 64))
}

// sloOf reads an SLO Datadog holds in selfserve's terms. The numerator and denominator Datadog
// derives from a time slice are not part of it; an interval left out is Datadog's default.
func sloOf(o datadogV1.ServiceLevelObjective) SLO {
	out := SLO{Name: o.Name, Description: o.GetDescription(), Type: string(o.Type), Tags: sortedCopy(o.Tags), MonitorIDs: o.MonitorIds}
	for _, t := range o.Thresholds {
		out.Thresholds = append(out.Thresholds, Threshold{Timeframe: string(t.Timeframe), Target: t.Target, Warning: t.Warning})
	}
	sortThresholds(out.Thresholds)
	if spec := o.SliSpecification; spec != nil && spec.SLOTimeSliceSpec != nil {
		c := spec.SLOTimeSliceSpec.TimeSlice
		ts := &TimeSlice{Comparator: string(c.Comparator), Threshold: c.Threshold, IntervalSeconds: 300}
		for _, d := range c.Query.Queries {
			if d.FormulaAndFunctionMetricQueryDefinition != nil {
				ts.Query += d.FormulaAndFunctionMetricQueryDefinition.Query
			}
		}
		if c.QueryIntervalSeconds != nil {
			ts.IntervalSeconds = int64(*c.QueryIntervalSeconds)
		}
		out.TimeSlice = ts
	} else if o.Query != nil {
		out.Numerator, out.Denominator = o.Query.Numerator, o.Query.Denominator
	}
	return out
}

func sortedCopy(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return out
}

// thresholds is the SLO's thresholds as the SDK takes them.
func (s SLO) thresholds() []datadogV1.SLOThreshold {
	var out []datadogV1.SLOThreshold
	for _, t := range s.Thresholds {
		out = append(out, datadogV1.SLOThreshold{Timeframe: datadogV1.SLOTimeframe(t.Timeframe), Target: t.Target, Warning: t.Warning})
	}
	return out
}

// sliSpecification is a time slice as the SDK takes it.
func (s SLO) sliSpecification() *datadogV1.SLOSliSpec {
	if s.TimeSlice == nil {
		return nil
	}
	interval := datadogV1.SLOTimeSliceInterval(s.TimeSlice.IntervalSeconds)
	spec := datadogV1.SLOTimeSliceSpecAsSLOSliSpec(&datadogV1.SLOTimeSliceSpec{TimeSlice: datadogV1.SLOTimeSliceCondition{
		Comparator: datadogV1.SLOTimeSliceComparator(s.TimeSlice.Comparator),
		Threshold:  s.TimeSlice.Threshold,
		Query: datadogV1.SLOTimeSliceQuery{
			Formulas: []datadogV1.SLOFormula{{Formula: "query1"}},
			Queries: []datadogV1.SLODataSourceQueryDefinition{datadogV1.FormulaAndFunctionMetricQueryDefinitionAsSLODataSourceQueryDefinition(
				datadogV1.NewFormulaAndFunctionMetricQueryDefinition(datadogV1.FORMULAANDFUNCTIONMETRICDATASOURCE_METRICS, "query1", s.TimeSlice.Query))},
		},
		QueryIntervalSeconds: &interval,
	}})
	return &spec
}

// request is the SLO as the create call takes it.
func (s SLO) request() datadogV1.ServiceLevelObjectiveRequest {
	req := datadogV1.NewServiceLevelObjectiveRequest(s.Name, s.thresholds(), datadogV1.SLOType(s.Type))
	req.SetDescription(s.Description)
	req.SetTags(s.Tags)
	if s.Numerator != "" || s.Denominator != "" {
		req.SetQuery(datadogV1.ServiceLevelObjectiveQuery{Numerator: s.Numerator, Denominator: s.Denominator})
	}
	if len(s.MonitorIDs) > 0 {
		req.SetMonitorIds(s.MonitorIDs)
	}
	req.SliSpecification = s.sliSpecification()
	return *req
}

// object is the SLO as the update call takes it.
func (s SLO) object() datadogV1.ServiceLevelObjective {
	r := s.request()
	o := datadogV1.NewServiceLevelObjective(r.Name, r.Thresholds, r.Type)
	o.Description, o.Tags, o.Query, o.MonitorIds, o.SliSpecification = r.Description, r.Tags, r.Query, r.MonitorIds, r.SliSpecification
	return *o
}

// monitorOf reads a monitor Datadog holds in selfserve's terms.
func monitorOf(m datadogV1.Monitor) Monitor {
	out := Monitor{Tier: TagValue(m.Tags, TagTierPrefix), Type: string(m.Type), Name: m.GetName(), Query: m.Query, Message: m.GetMessage(), Tags: sortedCopy(m.Tags), Priority: m.GetPriority()}
	if o, ok := m.GetOptionsOk(); ok {
		if o.Thresholds != nil && o.Thresholds.Critical != nil {
			out.Critical = *o.Thresholds.Critical
		}
		out.Renotify = o.GetRenotifyInterval()
	}
	return out
}

func (m Monitor) options() datadogV1.MonitorOptions {
	critical := m.Critical
	o := datadogV1.MonitorOptions{Thresholds: &datadogV1.MonitorThresholds{Critical: &critical}}
	if m.Renotify > 0 {
		o.SetRenotifyInterval(m.Renotify)
	} else {
		o.SetRenotifyIntervalNil()
	}
	return o
}

// forCreate is the monitor as the create call takes it.
func (m Monitor) forCreate() datadogV1.Monitor {
	out := datadogV1.NewMonitor(m.Query, datadogV1.MonitorType(m.Type))
	out.SetName(m.Name)
	out.SetMessage(m.Message)
	out.SetTags(m.Tags)
	out.SetPriority(m.Priority)
	out.SetOptions(m.options())
	return *out
}

// forUpdate is the monitor as the update call takes it.
func (m Monitor) forUpdate() datadogV1.MonitorUpdateRequest {
	out := datadogV1.NewMonitorUpdateRequest()
	out.SetName(m.Name)
	out.SetQuery(m.Query)
	out.SetMessage(m.Message)
	out.SetTags(m.Tags)
	out.SetPriority(m.Priority)
	out.SetOptions(m.options())
	return *out
}
