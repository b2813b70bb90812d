// This file is the pure part: translating local-time windows and exclusions into GKE's terms
// (UTC times, one recurring window with an RRULE, exclusions with scopes) and checking GKE's
// availability rule before anything is sent.

package gke

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	container "google.golang.org/api/container/v1"

	"github.com/selfserve-dev/selfserve/internal/schedule"
)

// ExclusionPrefix starts the name of every exclusion selfserve makes in GKE, and only theirs:
// the exclusions a cluster has under other names (an on-call SRE's emergency freeze set with
// gcloud) are kept as they are.
const ExclusionPrefix = "selfserve-"

// GateExclusionName names the exclusion added while a gate blocks upgrades.
const GateExclusionName = ExclusionPrefix + "gate"

// ExclusionName is the GKE name of a policy's exclusion.
func ExclusionName(name string) string { return ExclusionPrefix + name }

// gkeScopes maps exclusion scopes to GKE's names.
var gkeScopes = map[schedule.Scope]string{
	schedule.NoUpgrades:            "NO_UPGRADES",
	schedule.NoMinorUpgrades:       "NO_MINOR_UPGRADES",
	schedule.NoMinorOrNodeUpgrades: "NO_MINOR_OR_NODE_UPGRADES",
}

var rruleDay = map[time.Weekday]string{time.Monday: "MO", time.Tuesday: "TU", time.Wednesday: "WE", time.Thursday: "TH", time.Friday: "FR", time.Saturday: "SA", time.Sunday: "SU"}

// Gate is a gate blocking upgrades now, added to GKE as a dynamic exclusion.
type Gate struct {
	Scope schedule.Scope
	// Until is when the exclusion ends unless renewed; the controller renews it while the gate
	// blocks, so a stopped operator cannot hold upgrades back forever.
	Until time.Time
}

// DesiredWindow translates the windows into GKE's single recurring window, in UTC, for the
// occurrences following now. GKE keeps one recurring window, so windows must share their start
// and duration once in UTC (their days are merged); a local start that falls on another UTC day
// shifts BYDAY, which a monthly position ("first Saturday") cannot follow.
func DesiredWindow(windows []schedule.Window, now time.Time) (*container.RecurringTimeWindow, error) {
	if len(windows) == 0 {
		return nil, nil
	}
	type utcWindow struct {
		name string
		// minute is the UTC start's minute of the day.
		minute   int
		days     []string
		duration time.Duration
		freq     string
		interval int
		// moved is how many weeks every occurrence moves in UTC (-1, 0 or +1): a local Monday
		// that is Sunday in UTC falls into the previous UTC week.
		moved int
	}
	// GKE's window starts at the earliest occurrence to tell it about, and repeats that UTC time
	// of day; every window is put into UTC with its zone's offset at that occurrence, or now if
	// it began earlier (see nextStart).
	var start time.Time
	for _, w := range windows {
		first := nextStart(w, now)
		if first.IsZero() {
			return nil, fmt.Errorf("window %s never opens: its rule names no day in a whole calendar cycle", w.Name)
		}
		if start.IsZero() || first.Before(start) {
			start = first
		}
	}
	ref := maxTime(now, start)
	var ws []utcWindow
	for _, w := range windows {
		_, offset := ref.In(w.Location).Zone()
		local := w.Hour*60 + w.Minute - offset/60
		shift := int(math.Floor(float64(local) / (24 * 60)))
		uw := utcWindow{name: w.Name, minute: local - shift*24*60, duration: w.Duration, freq: "WEEKLY", interval: max(w.Recur.Interval, 1)}
		if w.Recur.Monthly {
			uw.freq = "MONTHLY"
		}
		if err := intervalSplits(w, shift); err != nil {
			return nil, err
		}
		for _, d := range w.Recur.Days {
			if d.Pos != 0 && shift != 0 {
				return nil, fmt.Errorf("window %s: %s at %02d:%02d %s is on another day in UTC, and GKE's RRULE cannot shift a monthly position; start it later in the day",
					w.Name, positional(d), w.Hour, w.Minute, w.Location)
			}
			if crossesWeek(d.Day, shift) {
				uw.moved = shift
			}
			day := rruleDay[time.Weekday((int(d.Day)+shift+7)%7)]
			if d.Pos != 0 {
				day = strconv.Itoa(d.Pos) + day
			}
			uw.days = append(uw.days, day)
		}
		ws = append(ws, uw)
	}
	base := ws[0]
	days := slices.Clone(base.days)
	for _, o := range ws[1:] {
		if base.interval > 1 && o.moved != base.moved {
			return nil, fmt.Errorf("windows %s and %s: every %d weeks, but one falls into the previous or next week in UTC and the other does not, so GKE would count their weeks apart; give them starts on the same side of midnight UTC",
				base.name, o.name, base.interval)
		}
		if o.minute != base.minute || o.duration != base.duration || o.freq != base.freq || o.interval != base.interval {
			return nil, fmt.Errorf("GKE keeps one recurring maintenance window; windows %s and %s, starting %s and %s UTC (%s and %s long), cannot be merged into it",
				base.name, o.name, clock(base.minute), clock(o.minute), base.duration, o.duration)
		}
		days = append(days, o.days...)
	}
	sort.Strings(days)
	days = slices.Compact(days)
	rrule := "FREQ=" + base.freq
	if base.interval > 1 {
		rrule += ";INTERVAL=" + strconv.Itoa(base.interval)
	}
	rrule += ";BYDAY=" + strings.Join(days, ",")
	return &container.RecurringTimeWindow{
		Window: &container.TimeWindow{
			StartTime: start.UTC().Format(time.RFC3339),
			EndTime:   start.Add(base.duration).UTC().Format(time.RFC3339),
		},
		Recurrence: rrule,
	}, nil
}

// clock writes a minute of the day as 15:04.
func clock(minute int) string { return fmt.Sprintf("%02d:%02d", minute/60, minute%60) }

// crossesWeek reports whether a local day, moved by shift days in UTC, lands in another UTC week
// (weeks start on Monday, as in RRULE's default WKST).
func crossesWeek(d time.Weekday, shift int) bool {
	return (shift < 0 && d == time.Monday) || (shift > 0 && d == time.Sunday)
}

// intervalSplits refuses a window that repeats every n > 1 weeks or months whose local start
// falls on another UTC day, when that would put one local week's (or month's) occurrences into
// two UTC weeks (months). GKE counts INTERVAL from the start time, in UTC weeks (months): it
// would open the window in weeks that are closed locally and skip weeks that are open. When
// every day of the rule moves to the same UTC week, the count stays right and the rule is sent.
func intervalSplits(w schedule.Window, shift int) error {
	if w.Recur.Interval <= 1 || shift == 0 {
		return nil
	}
	if w.Recur.Monthly {
		return fmt.Errorf("window %s: every %d months at %02d:%02d %s starts on another day in UTC, so some occurrences fall into another month there and GKE would count the months differently; start it on the same UTC day, or repeat it every month",
			w.Name, w.Recur.Interval, w.Hour, w.Minute, w.Location)
	}
	crossing := 0
	for _, d := range w.Recur.Days {
		if crossesWeek(d.Day, shift) {
			crossing++
		}
	}
	if crossing > 0 && crossing < len(w.Recur.Days) {
		edge := "Monday is Sunday"
		if shift > 0 {
			edge = "Sunday is Monday"
		}
		return fmt.Errorf("window %s: every %d weeks at %02d:%02d %s: there the local %s of another week in UTC, so one local week's days fall into two UTC weeks and GKE, which counts the interval in UTC weeks, would open the window in the wrong weeks; start it on the same UTC day, or give the days of that week their own window",
			w.Name, w.Recur.Interval, w.Hour, w.Minute, w.Location, edge)
	}
	return nil
}

func positional(d schedule.DaySpec) string {
	return fmt.Sprintf("BYDAY=%d%s", d.Pos, rruleDay[d.Day])
}

// nextStart is the occurrence GKE's recurring window starts at: GKE repeats its UTC time of
// day, so it must be an occurrence with the UTC offset in force from now until the zone's next
// change (when the operator sends the new time). That is the earliest occurrence open now that
// began under the current offset at the window's wall-clock start, or else the first one that
// starts at or after now at its wall-clock start. An occurrence still open that began before
// the offset changed (a 48-hour window across a DST night) is not sent: GKE would repeat its old
// UTC time for every later occurrence; GKE stays closed for the rest of it instead, as for an
// occurrence that opens after the clock jumped over its start. Zero when the window never opens.
func nextStart(w schedule.Window, now time.Time) time.Time {
	_, offset := now.In(w.Location).Zone()
	for _, s := range w.OpenAt(now) {
		if _, o := s.In(w.Location).Zone(); o == offset && w.Regular(s) {
			return s
		}
	}
	from := now
	for range 8 { // a start skipped by a jump happens at most twice a year
		s, ok := w.FirstStart(from)
		if !ok || w.Regular(s) {
			return s
		}
		from = s.Add(time.Nanosecond) // opens after a jump over its start: GKE cannot repeat it
	}
	return time.Time{}
}

// DesiredExclusions translates the exclusions that have not ended, and the gate's exclusion, into
// GKE's map of named exclusions.
func DesiredExclusions(exclusions []schedule.Exclusion, gate *Gate, now time.Time) map[string]container.TimeWindow {
	out := map[string]container.TimeWindow{}
	for _, e := range exclusions {
		if !e.End.After(now) {
			continue
		}
		out[ExclusionName(e.Name)] = container.TimeWindow{
			StartTime:                   e.Start.UTC().Format(time.RFC3339),
			EndTime:                     e.End.UTC().Format(time.RFC3339),
			MaintenanceExclusionOptions: &container.MaintenanceExclusionOptions{Scope: gkeScopes[e.Scope]},
		}
	}
	if gate != nil {
		// From the start of the UTC day, so the exclusion stays the same, and is not set again,
		// for the whole day.
		out[GateExclusionName] = container.TimeWindow{
			StartTime:                   now.UTC().Truncate(24 * time.Hour).Format(time.RFC3339),
			EndTime:                     gate.Until.UTC().Format(time.RFC3339),
			MaintenanceExclusionOptions: &container.MaintenanceExclusionOptions{Scope: gkeScopes[gate.Scope]},
		}
	}
	return out
}

// GKE's availability rule: at least 48 hours of maintenance availability in any 32-day period,
// counting only stretches of at least 4 hours.
const (
	availabilityPeriod  = 32 * 24 * time.Hour
	availabilityMinimum = 48 * time.Hour
	availabilityStretch = 4 * time.Hour
)

// CheckAvailability reports a 32-day period, starting at now or later, in which the recurring
// window GKE is sent, minus the NoUpgrades exclusions, leaves less availability than GKE requires.
// Exclusions of a narrower scope still let patches through, so they do not take availability
// away. GKE rejects such a policy; the controller reports the problem instead of sending it.
//
// The check is GKE's: it reads the rule as sent, in UTC (so a DST change does not move it), and
// every 32 days from now on count. Until the last NoUpgrades exclusion ends and for one period of
// the rule after it (its INTERVAL of weeks, or two months), every start is checked; after that a
// weekly rule repeats itself, and a monthly one depends only on the months around a start (their
// lengths, weekdays and whether INTERVAL names them), so one month of each kind is checked, over
// a whole cycle of the calendar.
func CheckAvailability(window *container.RecurringTimeWindow, exclusions []schedule.Exclusion, now time.Time) error {
	w, err := utcRule(window)
	if err != nil {
		return err
	}
	var blocking []schedule.Exclusion
	until := now
	for _, e := range exclusions {
		if e.Scope == schedule.NoUpgrades {
			blocking = append(blocking, e)
			until = maxTime(until, e.End)
		}
	}
	interval := max(w.Recur.Interval, 1)
	if !w.Recur.Monthly {
		return checkSpan(w, blocking, now, until.Add(time.Duration(interval)*7*24*time.Hour))
	}
	until = until.AddDate(0, 2, 0)
	if err := checkSpan(w, blocking, now, until); err != nil {
		return err
	}
	first := time.Date(until.Year(), until.Month(), 1, 0, 0, 0, 0, time.UTC)
	seen := map[[4][3]int]bool{}
	for m := 0; m < lcm(interval, 4800); m++ {
		month := first.AddDate(0, m, 0)
		var kind [4][3]int
		for i := range kind {
			day := month.AddDate(0, i-1, 0)
			named := 0
			if w.Recur.NamesMonth(day) {
				named = 1
			}
			kind[i] = [3]int{int(day.Weekday()), day.AddDate(0, 1, -1).Day(), named}
		}
		if seen[kind] {
			continue
		}
		seen[kind] = true
		if err := checkSpan(w, nil, month, month.AddDate(0, 1, 0)); err != nil {
			return err
		}
	}
	return nil
}

// utcRule reads GKE's recurring window back as a window in UTC whose INTERVAL counts from the
// start time's week or month, as GKE counts it.
func utcRule(window *container.RecurringTimeWindow) (schedule.Window, error) {
	if window == nil || window.Window == nil {
		return schedule.Window{}, fmt.Errorf("no recurring window")
	}
	start, err1 := time.Parse(time.RFC3339, window.Window.StartTime)
	end, err2 := time.Parse(time.RFC3339, window.Window.EndTime)
	rec, err3 := schedule.ParseRRule(window.Recurrence)
	if err := errors.Join(err1, err2, err3); err != nil {
		return schedule.Window{}, err
	}
	start = start.UTC()
	rec.Anchor = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	return schedule.Window{Name: "gke", Recur: rec, Hour: start.Hour(), Minute: start.Minute(), Duration: end.Sub(start), Location: time.UTC}, nil
}

// checkSpan checks the 32-day periods that start in [from, to]. Their availability only changes
// where an edge of the period meets an edge of an available stretch, or cuts a stretch to under
// 4 hours, so those starts (and from) are the only ones to check.
func checkSpan(w schedule.Window, blocking []schedule.Exclusion, from, to time.Time) error {
	var stretches [][2]time.Time
	for _, iv := range schedule.Occurrences([]schedule.Window{w}, from, to.Add(availabilityPeriod)) {
		stretches = append(stretches, subtract(iv.Start, iv.End, blocking)...)
	}
	starts := []time.Time{from}
	for _, s := range stretches {
		// Where the period's start leaves a stretch (whole, or with under 4 hours left) and where
		// its end has not yet reached one (or not 4 hours of it).
		starts = append(starts, s[0], s[1], s[1].Add(-availabilityStretch+time.Second),
			s[0].Add(-availabilityPeriod), s[1].Add(-availabilityPeriod), s[0].Add(availabilityStretch-availabilityPeriod-time.Second))
	}
	for _, start := range starts {
		if start.Before(from) || start.After(to) {
			continue
		}
		if got := available(stretches, start, start.Add(availabilityPeriod)); got < availabilityMinimum {
			return fmt.Errorf("GKE requires at least %s of maintenance availability in any 32 days (in stretches of at least %s); the 32 days from %s leave %s",
				availabilityMinimum, availabilityStretch, start.UTC().Format(time.RFC3339), got)
		}
	}
	return nil
}

func lcm(a, b int) int {
	g, h := a, b
	for h != 0 {
		g, h = h, g%h
	}
	return a / g * b
}

// available sums the parts of the stretches inside [from, to) that are at least 4 hours long.
func available(stretches [][2]time.Time, from, to time.Time) time.Duration {
	var total time.Duration
	for _, s := range stretches {
		if d := minTime(s[1], to).Sub(maxTime(s[0], from)); d >= availabilityStretch {
			total += d
		}
	}
	return total
}

// subtract removes the exclusions from [start, end).
func subtract(start, end time.Time, exclusions []schedule.Exclusion) [][2]time.Time {
	pieces := [][2]time.Time{{start, end}}
	for _, e := range exclusions {
		var next [][2]time.Time
		for _, p := range pieces {
			if !e.Start.Before(p[1]) || !e.End.After(p[0]) {
				next = append(next, p)
				continue
			}
			if e.Start.After(p[0]) {
				next = append(next, [2]time.Time{p[0], e.Start})
			}
			if e.End.Before(p[1]) {
				next = append(next, [2]time.Time{e.End, p[1]})
			}
		}
		pieces = next
	}
	return pieces
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
