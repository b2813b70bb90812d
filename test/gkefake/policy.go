// This file is GKE's validation of a maintenance policy, written from GKE's documentation (the
// container/v1 field descriptions and the maintenance windows and exclusions guide), apart from
// internal/gke: it is what the operator's own checks are tested against.

package gkefake

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	container "google.golang.org/api/container/v1"
)

// GKE's documented limits.
const (
	maxExclusions       = 20
	availabilityPeriod  = 32 * 24 * time.Hour
	availabilityMinimum = 48 * time.Hour
	availabilityStretch = 4 * time.Hour
	// availabilityAhead is how far ahead the fake checks the rolling 32 days, to the minute.
	availabilityAhead = 366 * 24 * time.Hour
)

var scopes = map[string]bool{"": true, "NO_UPGRADES": true, "NO_MINOR_UPGRADES": true, "NO_MINOR_OR_NODE_UPGRADES": true}

// Refusal is GKE's answer to a maintenance policy it does not accept at now; empty when it
// accepts it: more than one kind of window; a recurring window without a valid start before its
// end or a recurrence it cannot read; a FREQ of HOURLY, MINUTELY or SECONDLY; less than 48 hours
// of availability, in stretches of 4 hours or more, in some 32 days from now on (once NO_UPGRADES
// exclusions are taken out); more than 20 exclusions; an exclusion that does not end after it
// starts, with an unknown scope, or longer than 30 days (NO_UPGRADES) or 180 days (the others).
// RFC 5545 rule parts other than FREQ, INTERVAL and BYDAY are refused too, as parts the fake does
// not model (selfserve never sends them).
func Refusal(p *container.MaintenancePolicy, now time.Time) string {
	if p.Window == nil {
		return ""
	}
	w := p.Window
	kinds := 0
	for _, set := range []bool{w.DailyMaintenanceWindow != nil, w.RecurringWindow != nil, w.RecurringMaintenanceWindow != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return "maintenance window: set only one of dailyMaintenanceWindow, recurringWindow and recurringMaintenanceWindow"
	}
	if n := len(w.MaintenanceExclusions); n > maxExclusions {
		return fmt.Sprintf("a cluster can have at most %d maintenance exclusions, got %d", maxExclusions, n)
	}
	var blocking [][2]time.Time
	for _, name := range slices.Sorted(maps.Keys(w.MaintenanceExclusions)) {
		e := w.MaintenanceExclusions[name]
		start, err1 := time.Parse(time.RFC3339, e.StartTime)
		end, err2 := time.Parse(time.RFC3339, e.EndTime)
		if err1 != nil || err2 != nil || !end.After(start) {
			return fmt.Sprintf("maintenance exclusion %q: the end time must be a valid time after the start time", name)
		}
		scope := ""
		if e.MaintenanceExclusionOptions != nil {
			scope = e.MaintenanceExclusionOptions.Scope
		}
		if !scopes[scope] {
			return fmt.Sprintf("maintenance exclusion %q: unknown scope %q", name, scope)
		}
		days := 180
		if scope == "" || scope == "NO_UPGRADES" {
			days = 30
			blocking = append(blocking, [2]time.Time{start, end})
		}
		if end.Sub(start) > time.Duration(days)*24*time.Hour {
			return fmt.Sprintf("maintenance exclusion %q is longer than %d days", name, days)
		}
	}
	if w.RecurringWindow == nil {
		return ""
	}
	rw := w.RecurringWindow
	if rw.Window == nil {
		return "recurringWindow.window is required"
	}
	start, err1 := time.Parse(time.RFC3339, rw.Window.StartTime)
	end, err2 := time.Parse(time.RFC3339, rw.Window.EndTime)
	if err1 != nil || err2 != nil || !end.After(start) {
		return "recurringWindow: the end time must be a valid time after the start time"
	}
	r, msg := parseRule(rw.Recurrence)
	if msg != "" {
		return "recurringWindow.recurrence: " + msg
	}
	stretches := available(r.starts(start.UTC(), now.Add(-end.Sub(start)), now.Add(availabilityAhead+availabilityPeriod)), end.Sub(start), blocking)
	for from := now.Truncate(time.Minute); from.Before(now.Add(availabilityAhead)); from = from.Add(time.Minute) {
		if got := within(stretches, from, from.Add(availabilityPeriod)); got < availabilityMinimum {
			return fmt.Sprintf("maintenance policy would provide %s of maintenance availability in the 32 days from %s; at least 48 hours in stretches of 4 hours or more are required",
				got, from.Format(time.RFC3339))
		}
	}
	return ""
}

// rule is an RRULE of the subset the fake reads.
type rule struct {
	freq     string
	interval int
	days     []string // "MO", "1SA", "-1FR"
}

var weekday = map[string]time.Weekday{"MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday, "SU": time.Sunday}

func parseRule(s string) (rule, string) {
	r := rule{interval: 1}
	if s == "" {
		return r, "required"
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return r, fmt.Sprintf("%q is not NAME=VALUE", part)
		}
		if seen[k] {
			return r, fmt.Sprintf("%s appears twice", k)
		}
		seen[k] = true
		switch k {
		case "FREQ":
			switch v {
			case "DAILY", "WEEKLY", "MONTHLY":
				r.freq = v
			case "HOURLY", "MINUTELY", "SECONDLY":
				return r, "FREQ=" + v + " is not supported"
			default:
				return r, "unknown FREQ " + v
			}
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, "INTERVAL must be a positive integer"
			}
			r.interval = n
		case "BYDAY":
			for _, d := range strings.Split(v, ",") {
				if len(d) < 2 {
					return r, "invalid BYDAY " + d
				}
				if _, ok := weekday[d[len(d)-2:]]; !ok {
					return r, "invalid BYDAY " + d
				}
				if p := d[:len(d)-2]; p != "" {
					n, err := strconv.Atoi(p)
					if err != nil || n == 0 || n < -5 || n > 5 {
						return r, "invalid BYDAY " + d
					}
				}
				r.days = append(r.days, d)
			}
		case "COUNT", "UNTIL", "BYSETPOS", "BYMONTHDAY", "BYMONTH", "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND", "WKST":
			return r, k + " is valid RFC 5545 but not modelled by the fake"
		default:
			return r, "unknown rule part " + k
		}
	}
	if r.freq == "" {
		return r, "FREQ is required"
	}
	for _, d := range r.days {
		if len(d) > 2 && r.freq != "MONTHLY" {
			return r, "BYDAY " + d + ": a position needs FREQ=MONTHLY"
		}
	}
	if r.freq == "DAILY" && len(r.days) > 0 {
		return r, "BYDAY is not modelled with FREQ=DAILY by the fake"
	}
	return r, ""
}

// starts expands the rule from dtstart (INTERVAL counted from its day, week starting Monday, or
// month), and returns the starts in [from, to).
func (r rule) starts(dtstart, from, to time.Time) []time.Time {
	var out []time.Time
	at := func(d time.Time) {
		s := time.Date(d.Year(), d.Month(), d.Day(), dtstart.Hour(), dtstart.Minute(), dtstart.Second(), 0, time.UTC)
		if !s.Before(from) && s.Before(to) {
			out = append(out, s)
		}
	}
	day0 := time.Date(dtstart.Year(), dtstart.Month(), dtstart.Day(), 0, 0, 0, 0, time.UTC)
	// The pattern runs both ways from dtstart: GKE checks the rule, whatever day it first opens.
	for d := from.AddDate(0, 0, -1).Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		days := int(d.Sub(day0).Round(time.Hour).Hours()) / 24
		switch r.freq {
		case "DAILY":
			if days%r.interval == 0 {
				at(d)
			}
		case "WEEKLY":
			// Whole weeks between the Mondays of d's week and dtstart's.
			weeks := (days - (int(d.Weekday())+6)%7 + (int(day0.Weekday())+6)%7) / 7
			if ((weeks%r.interval)+r.interval)%r.interval != 0 {
				continue
			}
			for _, spec := range r.days {
				if weekday[spec] == d.Weekday() {
					at(d)
				}
			}
		case "MONTHLY":
			months := (d.Year()-day0.Year())*12 + int(d.Month()-day0.Month())
			if ((months%r.interval)+r.interval)%r.interval != 0 {
				continue
			}
			last := time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
			for _, spec := range r.days {
				name := spec[len(spec)-2:]
				if weekday[name] != d.Weekday() {
					continue
				}
				pos, _ := strconv.Atoi(spec[:len(spec)-2])
				if pos == 0 || pos > 0 && (d.Day()-1)/7+1 == pos || pos < 0 && (last-d.Day())/7+1 == -pos {
					at(d)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return slices.Compact(out)
}

// available merges the occurrences and takes out the blocking exclusions.
func available(starts []time.Time, length time.Duration, blocking [][2]time.Time) [][2]time.Time {
	var merged [][2]time.Time
	for _, s := range starts {
		if n := len(merged); n > 0 && !s.After(merged[n-1][1]) {
			if s.Add(length).After(merged[n-1][1]) {
				merged[n-1][1] = s.Add(length)
			}
			continue
		}
		merged = append(merged, [2]time.Time{s, s.Add(length)})
	}
	for _, b := range blocking {
		var next [][2]time.Time
		for _, m := range merged {
			if !b[0].Before(m[1]) || !b[1].After(m[0]) {
				next = append(next, m)
				continue
			}
			if b[0].After(m[0]) {
				next = append(next, [2]time.Time{m[0], b[0]})
			}
			if b[1].Before(m[1]) {
				next = append(next, [2]time.Time{b[1], m[1]})
			}
		}
		merged = next
	}
	return merged
}

// within sums the parts of the stretches inside [from, to) of 4 hours or more.
func within(stretches [][2]time.Time, from, to time.Time) time.Duration {
	i := sort.Search(len(stretches), func(i int) bool { return stretches[i][1].After(from) })
	var total time.Duration
	for ; i < len(stretches) && stretches[i][0].Before(to); i++ {
		lo, hi := stretches[i][0], stretches[i][1]
		if lo.Before(from) {
			lo = from
		}
		if hi.After(to) {
			hi = to
		}
		if hi.Sub(lo) >= availabilityStretch {
			total += hi.Sub(lo)
		}
	}
	return total
}
