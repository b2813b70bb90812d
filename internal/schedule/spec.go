package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

var weekdays = map[platformv1alpha1.Weekday]time.Weekday{
	"Sunday": time.Sunday, "Monday": time.Monday, "Tuesday": time.Tuesday, "Wednesday": time.Wednesday,
	"Thursday": time.Thursday, "Friday": time.Friday, "Saturday": time.Saturday,
}

// FromSpec turns a policy's windows and exclusions into the schedule's terms. The schema has
// already checked the formats; an error here means a rule the schema cannot state (a time zone
// missing from the embedded database).
func FromSpec(spec platformv1alpha1.ClusterUpgradePolicySpec) ([]Window, []Exclusion, error) {
	var windows []Window
	for _, mw := range spec.MaintenanceWindows {
		loc, err := time.LoadLocation(string(mw.TimeZone))
		if err != nil {
			return nil, nil, fmt.Errorf("window %s: time zone %q: %w", mw.Name, mw.TimeZone, err)
		}
		hh, mm, _ := strings.Cut(mw.Start, ":")
		hour, err1 := strconv.Atoi(hh)
		minute, err2 := strconv.Atoi(mm)
		d, err3 := time.ParseDuration(mw.Duration)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, nil, fmt.Errorf("window %s: start %q or duration %q is not valid", mw.Name, mw.Start, mw.Duration)
		}
		w := Window{Name: mw.Name, Hour: hour, Minute: minute, Duration: d, Location: loc}
		if mw.RRule != "" {
			if w.Recur, err = ParseRRule(mw.RRule); err != nil {
				return nil, nil, fmt.Errorf("window %s: %w", mw.Name, err)
			}
		}
		for _, day := range mw.DaysOfWeek {
			w.Recur.Days = append(w.Recur.Days, DaySpec{Day: weekdays[day]})
		}
		windows = append(windows, w)
	}
	var exclusions []Exclusion
	for _, e := range spec.Exclusions {
		scope := Scope(e.Scope)
		if scope == "" {
			scope = NoUpgrades
		}
		exclusions = append(exclusions, Exclusion{Name: e.Name, Start: e.Start.Time, End: e.End.Time, Scope: scope})
	}
	return windows, exclusions, nil
}
