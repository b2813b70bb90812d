package schedule

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of upgrade being asked about.
type Kind int

// Kinds of upgrade, as GKE's exclusion scopes tell them apart.
const (
	// ControlPlanePatch is a patch upgrade of the control plane.
	ControlPlanePatch Kind = iota
	// NodeUpgrade is an upgrade of node pools.
	NodeUpgrade
	// MinorUpgrade is a minor version upgrade (control plane or nodes).
	MinorUpgrade
)

// Scope is which upgrades an exclusion holds back, named as GKE names them.
type Scope string

// Scopes.
const (
	NoUpgrades            Scope = "NoUpgrades"
	NoMinorUpgrades       Scope = "NoMinorUpgrades"
	NoMinorOrNodeUpgrades Scope = "NoMinorOrNodeUpgrades"
)

// Blocks reports whether an exclusion of scope s holds back an upgrade of kind k.
func (s Scope) Blocks(k Kind) bool {
	switch s {
	case NoMinorUpgrades:
		return k == MinorUpgrade
	case NoMinorOrNodeUpgrades:
		return k == MinorUpgrade || k == NodeUpgrade
	default:
		return true
	}
}

// DaySpec is one BYDAY entry: a weekday, and for monthly rules its position (1 = first,
// -1 = last; 0 = every such day).
type DaySpec struct {
	Pos int
	Day time.Weekday
}

// Recurrence says on which local dates a window starts.
type Recurrence struct {
	// Monthly is false for FREQ=WEEKLY.
	Monthly bool
	// Interval repeats every n weeks or months, counted from Anchor.
	Interval int
	Days     []DaySpec
	// Anchor is the date the intervals count from (the Monday of its week, or its month). The
	// zero value counts from 1 January 2024, a Monday.
	Anchor time.Time
}

// Window is a recurring maintenance window.
type Window struct {
	Name     string
	Recur    Recurrence
	Hour     int
	Minute   int
	Duration time.Duration
	Location *time.Location
}

// Exclusion is a one-off period holding back the upgrades of its scope.
type Exclusion struct {
	Name       string
	Start, End time.Time
	Scope      Scope
}

// Interval is a period [Start, End).
type Interval struct {
	Start, End time.Time
	// Windows names the windows that make up the interval (several when they overlap).
	Windows []string
	// Continuous says the windows chain without closing for more than chainLimit: an open
	// period that began more than chainLimit before now or runs on more than chainLimit after
	// it, a next one longer than chainLimit (windows of a day or more can chain forever). End is
	// then not a real end, and an open period's Start is the earliest within chainLimit.
	Continuous bool
}

// chainLimit is how far back and ahead a window that runs into its next occurrences is
// followed before it is called continuous.
const chainLimit = 35 * 24 * time.Hour

// cycleSteps bounds the search for a window's next start: every INTERVAL months, 4,800 steps
// reach a month of every kind the Gregorian calendar has (its weekdays repeat every 400 years,
// 4,800 months), so a rule that does not open within them never opens.
const cycleSteps = 4800

// Contains reports whether t is within the interval.
func (iv Interval) Contains(t time.Time) bool { return !t.Before(iv.Start) && t.Before(iv.End) }

// Reasons an upgrade is not allowed.
const (
	ReasonInsideWindow  = "InsideWindow"
	ReasonOutsideWindow = "OutsideWindow"
	ReasonExcluded      = "Excluded"
)

// Answer is what the schedule says at an instant for a kind of upgrade.
type Answer struct {
	Allowed bool
	// Reason is InsideWindow, OutsideWindow or Excluded.
	Reason string
	// Current is the window open now, if any.
	Current *Interval
	// Next is the next window to open after now.
	Next *Interval
	// Active are the exclusions in force now, of any scope.
	Active []Exclusion
	// NextChange is the next instant at which the answer can change; a day from now when
	// nothing is due (a window that never closes, none to come).
	NextChange time.Time
}

// horizon bounds the search for the next window.
const horizon = 2 * 366 * 24 * time.Hour

// Evaluate answers for an instant and a kind of upgrade.
func Evaluate(windows []Window, exclusions []Exclusion, now time.Time, kind Kind) Answer {
	var a Answer
	merged := mergedOccurrences(windows, now)
	for i := range merged {
		iv := merged[i]
		if iv.Contains(now) {
			cur := settle(windows, iv, now)
			a.Current = &cur
		} else if iv.Start.After(now) && a.Next == nil {
			iv.Continuous = iv.End.Sub(iv.Start) > chainLimit
			a.Next = &iv
		}
	}
	if a.Next == nil && (a.Current == nil || !a.Current.Continuous) {
		// Nothing within two years after now (a rule every 61 months), or nothing after the
		// window open now closes: look further, however far.
		from := now
		if a.Current != nil {
			from = a.Current.End
		}
		a.Next = nextAfter(windows, from)
	}
	blocked := false
	var changes []time.Time
	for _, e := range exclusions {
		if !now.Before(e.Start) && now.Before(e.End) {
			a.Active = append(a.Active, e)
			blocked = blocked || e.Scope.Blocks(kind)
			changes = append(changes, e.End)
		} else if e.Start.After(now) {
			changes = append(changes, e.Start)
		}
	}
	switch {
	case a.Current == nil:
		a.Reason = ReasonOutsideWindow
	case blocked:
		a.Reason = ReasonExcluded
	default:
		a.Allowed, a.Reason = true, ReasonInsideWindow
	}
	if a.Current != nil && !a.Current.Continuous {
		changes = append(changes, a.Current.End)
	}
	if a.Next != nil {
		changes = append(changes, a.Next.Start)
	}
	for _, c := range changes {
		if c.After(now) && (a.NextChange.IsZero() || c.Before(a.NextChange)) {
			a.NextChange = c
		}
	}
	if a.NextChange.IsZero() {
		// A window that never closes, or none to come: evaluated again daily all the same.
		a.NextChange = now.Add(24 * time.Hour)
	}
	return a
}

// settle makes the window open now the same interval from its start to its end: the merge
// window by window only sees occurrences that end after now, so an earlier occurrence that
// overlaps the chain is followed back here, as long as it began within chainLimit before now.
// A chain that goes back further, or runs on more than chainLimit after now, is continuous: its
// start is then that of its earliest occurrence within the limit.
func settle(windows []Window, iv Interval, now time.Time) Interval {
	limit := now.Add(-chainLimit)
	for {
		// The earliest occurrence, of any window, that began before the period and reaches it.
		var touching time.Time
		for _, w := range windows {
			for _, o := range w.occurrences(iv.Start.Add(-time.Nanosecond), iv.Start) {
				if o.Start.Before(iv.Start) && (touching.IsZero() || o.Start.Before(touching)) {
					touching = o.Start
				}
			}
		}
		if touching.IsZero() {
			iv.Continuous = iv.End.After(now.Add(chainLimit))
			break
		}
		if touching.Before(limit) {
			iv.Continuous = true
			break
		}
		iv.Start = touching
	}
	// Named after every window with an occurrence in it, from its start to its end, so the
	// names do not change while it is open as the occurrences inside it end.
	iv.Windows = nil
	for _, o := range Occurrences(windows, iv.Start, iv.End) {
		for _, n := range o.Windows {
			if !slices.Contains(iv.Windows, n) {
				iv.Windows = append(iv.Windows, n)
			}
		}
	}
	return iv
}

// nextAfter is the period that opens first after from (an occurrence starting at from is
// merged into the period that ends there), however far away; nil when no window ever opens.
func nextAfter(windows []Window, from time.Time) *Interval {
	var first time.Time
	for _, w := range windows {
		if s, ok := w.FirstStart(from.Add(time.Nanosecond)); ok && (first.IsZero() || s.Before(first)) {
			first = s
		}
	}
	if first.IsZero() {
		return nil
	}
	for _, iv := range Occurrences(windows, first, first.Add(horizon)) {
		if iv.Start.Equal(first) {
			iv.Continuous = iv.End.Sub(iv.Start) > chainLimit
			return &iv
		}
	}
	return nil
}

// OpenAt are the starts of the window's own occurrences (not merged with any other) open at t,
// in order.
func (w Window) OpenAt(t time.Time) []time.Time {
	var out []time.Time
	for _, iv := range w.occurrences(t, t.Add(time.Nanosecond)) {
		out = append(out, iv.Start)
	}
	return out
}

// Regular reports whether an occurrence starting at s opens at the window's wall-clock start
// (not at the first instant after a jump over it).
func (w Window) Regular(s time.Time) bool {
	l := s.In(w.Location)
	return l.Hour() == w.Hour && l.Minute() == w.Minute
}

// FirstStart is the start of the window's first occurrence at or after from, however far away;
// false when its rule never opens (a fifth Saturday in months that never have one).
func (w Window) FirstStart(from time.Time) (time.Time, bool) {
	// Weekly rules open every INTERVAL weeks (at most 99): within two years.
	for _, iv := range w.occurrences(from, from.Add(horizon)) {
		if !iv.Start.Before(from) {
			return iv.Start, true
		}
	}
	if !w.Recur.Monthly {
		return time.Time{}, false
	}
	// Monthly ones: step through the months the INTERVAL names, from the one after the horizon.
	interval := max(w.Recur.Interval, 1)
	anchor := w.Recur.anchor()
	k := w.Recur.monthsFromAnchor(from.Add(horizon).In(w.Location))
	k += mod(-k, interval)
	for step := 0; step < cycleSteps; step++ {
		month := time.Date(anchor.Year(), anchor.Month()+time.Month(k+step*interval), 1, 12, 0, 0, 0, w.Location)
		for day := month; day.Month() == month.Month(); day = day.AddDate(0, 0, 1) {
			if !w.Recur.matches(day) {
				continue
			}
			if s := LocalInstant(day.Year(), day.Month(), day.Day(), w.Hour, w.Minute, w.Location); !s.Before(from) {
				return s, true
			}
		}
	}
	return time.Time{}, false
}

// mergedOccurrences returns the windows' occurrences that end after now and start within the
// horizon, overlapping ones merged, in order.
func mergedOccurrences(windows []Window, now time.Time) []Interval {
	return Occurrences(windows, now, now.Add(horizon))
}

// Occurrences returns the windows' occurrences that overlap [from, to), overlapping ones merged
// into one interval naming all of them, in order.
func Occurrences(windows []Window, from, to time.Time) []Interval {
	var all []Interval
	for _, w := range windows {
		all = append(all, w.occurrences(from.Add(-w.Duration), to)...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Start.Before(all[j].Start) })
	var merged []Interval
	for _, iv := range all {
		if n := len(merged); n > 0 && !iv.Start.After(merged[n-1].End) {
			last := &merged[n-1]
			if iv.End.After(last.End) {
				last.End = iv.End
			}
			if !slices.Contains(last.Windows, iv.Windows[0]) {
				last.Windows = append(last.Windows, iv.Windows[0])
			}
			continue
		}
		merged = append(merged, iv)
	}
	// Merge first, then drop what is over: a window that ends at from may still be part of one
	// that continues.
	var out []Interval
	for _, iv := range merged {
		if iv.End.After(from) && iv.Start.Before(to) {
			out = append(out, iv)
		}
	}
	return out
}

// occurrences returns the window's occurrences starting in [from, to), and the one already
// open at from.
func (w Window) occurrences(from, to time.Time) []Interval {
	var out []Interval
	// Walk local dates, one day before from (a window may start the previous local day) to to.
	d := from.In(w.Location).AddDate(0, 0, -1)
	day := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, w.Location)
	for ; day.Before(to.Add(24 * time.Hour)); day = day.AddDate(0, 0, 1) {
		if !w.Recur.matches(day) {
			continue
		}
		start := LocalInstant(day.Year(), day.Month(), day.Day(), w.Hour, w.Minute, w.Location)
		end := start.Add(w.Duration)
		if end.After(from) && start.Before(to) {
			out = append(out, Interval{Start: start, End: end, Windows: []string{w.Name}})
		}
	}
	return out
}

// LocalInstant is the instant a local wall-clock time names: on a day when it does not exist,
// the first instant after the clock jumps; when it occurs twice, the first occurrence.
func LocalInstant(y int, m time.Month, d, hour, minute int, loc *time.Location) time.Time {
	guess := time.Date(y, m, d, hour, minute, 0, 0, loc)
	want := wallMinutes(y, m, d, hour, minute)
	// The instants whose wall clock reads the wanted time lie within the largest offset change
	// (a few hours) of the guess; take the earliest.
	var best time.Time
	for delta := -3 * time.Hour; delta <= 3*time.Hour; delta += 15 * time.Minute {
		c := guess.Add(delta)
		l := c.In(loc)
		if wallMinutes(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute()) == want && (best.IsZero() || c.Before(best)) {
			best = c
		}
	}
	if !best.IsZero() {
		return best
	}
	// The wall time was skipped: find the first instant whose wall clock is past it.
	lo, hi := guess.Add(-3*time.Hour), guess.Add(3*time.Hour)
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		l := mid.In(loc)
		if wallMinutes(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute()) >= want {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi.Truncate(time.Second)
}

// wallMinutes orders wall-clock times across days.
func wallMinutes(y int, m time.Month, d, hour, minute int) int64 {
	days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	return days*24*60 + int64(hour*60+minute)
}

// anchor is the date INTERVAL counts from: Anchor, or 1 January 2024.
func (r Recurrence) anchor() time.Time {
	if r.Anchor.IsZero() {
		return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return r.Anchor
}

// monthsFromAnchor counts the months from the anchor's to the date's.
func (r Recurrence) monthsFromAnchor(date time.Time) int {
	a := r.anchor()
	return (date.Year()-a.Year())*12 + int(date.Month()-a.Month())
}

// NamesMonth reports whether a monthly rule's INTERVAL names the month of date (every month
// for an INTERVAL of 1).
func (r Recurrence) NamesMonth(date time.Time) bool {
	return mod(r.monthsFromAnchor(date), max(r.Interval, 1)) == 0
}

// matches reports whether a window starts on the local date of day.
func (r Recurrence) matches(day time.Time) bool {
	interval := max(r.Interval, 1)
	anchor := r.anchor()
	date := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	if r.Monthly {
		if !r.NamesMonth(date) {
			return false
		}
	} else {
		monday := func(t time.Time) int64 { return (t.Unix()/86400 - int64((int(t.Weekday())+6)%7)) / 7 }
		a := time.Date(anchor.Year(), anchor.Month(), anchor.Day(), 0, 0, 0, 0, time.UTC)
		if mod(int(monday(date)-monday(a)), interval) != 0 {
			return false
		}
	}
	for _, ds := range r.Days {
		if ds.Day != date.Weekday() {
			continue
		}
		if ds.Pos == 0 || !r.Monthly {
			return true
		}
		nth := (date.Day()-1)/7 + 1
		daysInMonth := time.Date(date.Year(), date.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
		nthFromEnd := -((daysInMonth-date.Day())/7 + 1)
		if ds.Pos == nth || ds.Pos == nthFromEnd {
			return true
		}
	}
	return false
}

func mod(a, b int) int { return ((a % b) + b) % b }

var rruleDays = map[string]time.Weekday{"MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday, "SU": time.Sunday}

// ParseRRule reads the subset of RFC 5545 the API accepts: FREQ=WEEKLY|MONTHLY, INTERVAL and
// BYDAY with optional positions ("1SA", "-1FR").
func ParseRRule(s string) (Recurrence, error) {
	var r Recurrence
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return r, fmt.Errorf("rrule %q: %q is not KEY=VALUE", s, part)
		}
		if seen[k] {
			return r, fmt.Errorf("rrule %q: %s may appear once (RFC 5545)", s, k)
		}
		seen[k] = true
		switch k {
		case "FREQ":
			switch v {
			case "WEEKLY":
			case "MONTHLY":
				r.Monthly = true
			default:
				return r, fmt.Errorf("rrule %q: FREQ must be WEEKLY or MONTHLY", s)
			}
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, fmt.Errorf("rrule %q: INTERVAL must be a positive number", s)
			}
			r.Interval = n
		case "BYDAY":
			for _, d := range strings.Split(v, ",") {
				name := d[max(len(d)-2, 0):]
				day, ok := rruleDays[name]
				if !ok {
					return r, fmt.Errorf("rrule %q: unknown day %q", s, d)
				}
				pos := 0
				if p := d[:len(d)-2]; p != "" {
					n, err := strconv.Atoi(p)
					if err != nil || n == 0 || n < -5 || n > 5 {
						return r, fmt.Errorf("rrule %q: position of %q must be 1 to 5 or -1 to -5", s, d)
					}
					pos = n
				}
				r.Days = append(r.Days, DaySpec{Pos: pos, Day: day})
			}
		default:
			return r, fmt.Errorf("rrule %q: %s is not supported", s, k)
		}
	}
	if len(r.Days) == 0 {
		return r, fmt.Errorf("rrule %q: BYDAY is required", s)
	}
	for _, d := range r.Days {
		if d.Pos != 0 && !r.Monthly {
			return r, fmt.Errorf("rrule %q: a weekly rule takes days without a position (RFC 5545)", s)
		}
	}
	return r, nil
}
