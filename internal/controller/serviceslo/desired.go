package serviceslo

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
)

// tier is one burn-rate alert.
type tier struct {
	BurnRate    float64
	Long, Short string
	Severity    string
}

// name identifies the tier in tags and status: "14.4x-1h-5m".
func (t tier) name() string {
	return strconv.FormatFloat(t.BurnRate, 'f', -1, 64) + "x-" + t.Long + "-" + t.Short
}

// recommendedTiers are Datadog's recommended multi-window burn-rate alerts per timeframe: two
// that page (fast and slow burn) and one that opens a ticket.
var recommendedTiers = map[platformv1alpha1.Timeframe][]tier{
	"7d":  {{16.8, "1h", "5m", "page"}, {5.6, "6h", "30m", "page"}, {2.8, "24h", "2h", "ticket"}},
	"30d": {{14.4, "1h", "5m", "page"}, {6, "6h", "30m", "page"}, {3, "24h", "2h", "ticket"}},
	"90d": {{21.6, "1h", "5m", "page"}, {10.8, "6h", "30m", "page"}, {4.5, "24h", "2h", "ticket"}},
}

// alertTimeframe is the objective the burn rate is measured against.
func alertTimeframe(s *platformv1alpha1.ServiceSLO) platformv1alpha1.Objective {
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

// tiers returns the burn-rate tiers of a ServiceSLO: its own, or the recommended ones for the
// timeframe, minus recommended tiers above 1/(1-target) (their alert could never fire before
// the budget is gone); skipped names those dropped.
func tiers(s *platformv1alpha1.ServiceSLO) (out []tier, skipped []string) {
	obj := alertTimeframe(s)
	if s.Spec.Alerting != nil && len(s.Spec.Alerting.Tiers) > 0 {
		for _, t := range s.Spec.Alerting.Tiers {
			rate, _ := strconv.ParseFloat(t.BurnRate, 64)
			out = append(out, tier{BurnRate: rate, Long: t.LongWindow, Short: t.ShortWindow, Severity: firstOr(t.Severity, "page")})
		}
		return out, nil
	}
	target, _ := strconv.ParseFloat(obj.Target, 64)
	ceiling := 100 / (100 - target)
	for _, t := range recommendedTiers[obj.Timeframe] {
		if t.BurnRate > ceiling {
			skipped = append(skipped, t.name())
			continue
		}
		out = append(out, t)
	}
	return out, skipped
}

// sloName is the SLO's name in Datadog.
func sloName(s *platformv1alpha1.ServiceSLO) string {
	return fmt.Sprintf("%s (%s/%s)", s.Spec.Service, s.Namespace, s.Name)
}

// tagsFor are the tags of every object of a ServiceSLO, lower case as Datadog stores them (a
// tag sent as Env:Prod is read back as env:prod, and must not look like drift at every poll).
func tagsFor(s *platformv1alpha1.ServiceSLO, team string) []string {
	tags := append([]string{
		"team:" + team, "service:" + s.Spec.Service, datadog.TagManaged, datadog.TagUIDPrefix + string(s.UID),
	}, s.Spec.Tags...)
	for i, t := range tags {
		tags[i] = strings.ToLower(t)
	}
	sort.Strings(tags)
	return slices.Compact(tags)
}

// desiredSLO is the SLO as the spec describes it.
func desiredSLO(s *platformv1alpha1.ServiceSLO, team string) datadogV1.ServiceLevelObjectiveRequest {
	var thresholds []datadogV1.SLOThreshold
	for _, o := range s.Spec.Objectives {
		target, _ := strconv.ParseFloat(o.Target, 64)
		th := datadogV1.SLOThreshold{Timeframe: datadogV1.SLOTimeframe(o.Timeframe), Target: target}
		if o.Warning != nil {
			w, _ := strconv.ParseFloat(*o.Warning, 64)
			th.Warning = &w
		}
		thresholds = append(thresholds, th)
	}
	sort.Slice(thresholds, func(i, j int) bool { return thresholds[i].Timeframe < thresholds[j].Timeframe })
	ind := s.Spec.Indicator
	typ := datadogV1.SLOTYPE_METRIC
	switch {
	case ind.Monitors != nil:
		typ = datadogV1.SLOTYPE_MONITOR
	case ind.TimeSlice != nil:
		typ = datadogV1.SLOTYPE_TIME_SLICE
	}
	req := datadogV1.NewServiceLevelObjectiveRequest(sloName(s), thresholds, typ)
	req.SetDescription(s.Spec.Description)
	req.SetTags(tagsFor(s, team))
	switch {
	case ind.Metric != nil:
		req.SetQuery(datadogV1.ServiceLevelObjectiveQuery{Numerator: ind.Metric.Good, Denominator: ind.Metric.Total})
	case ind.Monitors != nil:
		req.SetMonitorIds(ind.Monitors.IDs)
	case ind.TimeSlice != nil:
		threshold, _ := strconv.ParseFloat(ind.TimeSlice.Threshold, 64)
		interval := datadogV1.SLOTIMESLICEINTERVAL_FIVE_MINUTES
		if ind.TimeSlice.Interval == "1m" {
			interval = datadogV1.SLOTIMESLICEINTERVAL_ONE_MINUTE
		}
		req.SetSliSpecification(datadogV1.SLOTimeSliceSpecAsSLOSliSpec(&datadogV1.SLOTimeSliceSpec{TimeSlice: datadogV1.SLOTimeSliceCondition{
			Comparator: datadogV1.SLOTimeSliceComparator(ind.TimeSlice.Comparator),
			Threshold:  threshold,
			Query: datadogV1.SLOTimeSliceQuery{
				Formulas: []datadogV1.SLOFormula{{Formula: "query1"}},
				Queries: []datadogV1.SLODataSourceQueryDefinition{datadogV1.FormulaAndFunctionMetricQueryDefinitionAsSLODataSourceQueryDefinition(
					datadogV1.NewFormulaAndFunctionMetricQueryDefinition(datadogV1.FORMULAANDFUNCTIONMETRICDATASOURCE_METRICS, "query1", ind.TimeSlice.Query))},
			},
			QueryIntervalSeconds: &interval,
		}}))
	}
	return *req
}

// sloShape is what the operator compares between the desired and the observed SLO.
type sloShape struct {
	Name, Description, Type string
	Tags                    []string
	Thresholds              []string
	Numerator, Denominator  string
	MonitorIDs              []int64
	TimeSlice               string
}

func thresholdsShape(ths []datadogV1.SLOThreshold) []string {
	var out []string
	for _, t := range ths {
		w := "-"
		if t.Warning != nil {
			w = strconv.FormatFloat(*t.Warning, 'f', -1, 64)
		}
		out = append(out, fmt.Sprintf("%s:%s:%s", t.Timeframe, strconv.FormatFloat(t.Target, 'f', -1, 64), w))
	}
	sort.Strings(out)
	return out
}

func timeSliceShape(spec *datadogV1.SLOSliSpec) string {
	if spec == nil || spec.SLOTimeSliceSpec == nil {
		return ""
	}
	ts := spec.SLOTimeSliceSpec.TimeSlice
	q := ""
	for _, d := range ts.Query.Queries {
		if d.FormulaAndFunctionMetricQueryDefinition != nil {
			q += d.FormulaAndFunctionMetricQueryDefinition.Query
		}
	}
	interval := int64(300)
	if ts.QueryIntervalSeconds != nil {
		interval = int64(*ts.QueryIntervalSeconds)
	}
	return fmt.Sprintf("%s %s %v every %ds", q, ts.Comparator, ts.Threshold, interval)
}

func sortedCopy(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return out
}

func desiredShape(r datadogV1.ServiceLevelObjectiveRequest) sloShape {
	sh := sloShape{Name: r.Name, Description: r.GetDescription(), Type: string(r.Type), Tags: sortedCopy(r.Tags),
		Thresholds: thresholdsShape(r.Thresholds), MonitorIDs: r.MonitorIds, TimeSlice: timeSliceShape(r.SliSpecification)}
	if r.Query != nil {
		sh.Numerator, sh.Denominator = r.Query.Numerator, r.Query.Denominator
	}
	return sh
}

func observedShape(o datadogV1.ServiceLevelObjective) sloShape {
	sh := sloShape{Name: o.Name, Description: o.GetDescription(), Type: string(o.Type), Tags: sortedCopy(o.Tags),
		Thresholds: thresholdsShape(o.Thresholds), MonitorIDs: o.MonitorIds, TimeSlice: timeSliceShape(o.SliSpecification)}
	if o.Query != nil && o.SliSpecification == nil {
		sh.Numerator, sh.Denominator = o.Query.Numerator, o.Query.Denominator
	}
	return sh
}

// sloForUpdate is the desired SLO as the update call takes it.
func sloForUpdate(r datadogV1.ServiceLevelObjectiveRequest) datadogV1.ServiceLevelObjective {
	o := datadogV1.NewServiceLevelObjective(r.Name, r.Thresholds, r.Type)
	o.Description = r.Description
	o.Tags = r.Tags
	o.Query = r.Query
	o.MonitorIds = r.MonitorIds
	o.SliSpecification = r.SliSpecification
	return *o
}

// burnRateQuery is the query of a burn-rate monitor.
func burnRateQuery(sloID string, tf platformv1alpha1.Timeframe, t tier) string {
	return fmt.Sprintf(`burn_rate("%s").over("%s").long_window("%s").short_window("%s") > %s`,
		sloID, tf, t.Long, t.Short, strconv.FormatFloat(t.BurnRate, 'f', -1, 64))
}

// monitorShape is what the operator compares between a desired and an observed monitor.
type monitorShape struct {
	Name, Query, Message string
	Tags                 []string
	Priority             int64
	Critical             float64
	Renotify             int64
}

// desiredMonitor is a tier's burn-rate monitor. It notifies the ServiceSLO's handles, or the
// team's default handles when it names none.
func desiredMonitor(s *platformv1alpha1.ServiceSLO, team, sloID string, t tier, teamNotify []string) monitorShape {
	obj := alertTimeframe(s)
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
	msg := fmt.Sprintf("Service %s (team %s) is burning the %s error budget of SLO %q %s times faster than sustainable over the last %s and %s (severity: %s). The ServiceSLO is %s/%s.",
		s.Spec.Service, team, obj.Timeframe, sloName(s), strconv.FormatFloat(t.BurnRate, 'f', -1, 64), t.Long, t.Short, t.Severity, s.Namespace, s.Name)
	if len(notify) > 0 {
		msg += "\n" + strings.Join(notify, " ")
	}
	tags := append(tagsFor(s, team), datadog.TagTierPrefix+t.name(), "severity:"+t.Severity)
	return monitorShape{
		Name:     fmt.Sprintf("%s burn rate %s over %s/%s (%s)", s.Spec.Service, strconv.FormatFloat(t.BurnRate, 'f', -1, 64), t.Long, t.Short, obj.Timeframe),
		Query:    burnRateQuery(sloID, obj.Timeframe, t),
		Message:  msg,
		Tags:     sortedCopy(tags),
		Priority: priority,
		Critical: t.BurnRate,
		Renotify: renotify,
	}
}

func observedMonitor(m datadogV1.Monitor) monitorShape {
	sh := monitorShape{Name: m.GetName(), Query: m.Query, Message: m.GetMessage(), Tags: sortedCopy(m.Tags), Priority: m.GetPriority()}
	if o, ok := m.GetOptionsOk(); ok {
		if o.Thresholds != nil && o.Thresholds.Critical != nil {
			sh.Critical = *o.Thresholds.Critical
		}
		sh.Renotify = o.GetRenotifyInterval()
	}
	return sh
}

func (m monitorShape) options() datadogV1.MonitorOptions {
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
func (m monitorShape) forCreate() datadogV1.Monitor {
	out := datadogV1.NewMonitor(m.Query, datadogV1.MONITORTYPE_SLO_ALERT)
	out.SetName(m.Name)
	out.SetMessage(m.Message)
	out.SetTags(m.Tags)
	out.SetPriority(m.Priority)
	out.SetOptions(m.options())
	return *out
}

// forUpdate is the monitor as the update call takes it.
func (m monitorShape) forUpdate() datadogV1.MonitorUpdateRequest {
	out := datadogV1.NewMonitorUpdateRequest()
	out.SetName(m.Name)
	out.SetQuery(m.Query)
	out.SetMessage(m.Message)
	out.SetTags(m.Tags)
	out.SetPriority(m.Priority)
	out.SetOptions(m.options())
	return *out
}

func firstOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
