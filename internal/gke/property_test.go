package gke

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	container "google.golang.org/api/container/v1"

	"github.com/selfserve-dev/selfserve/internal/schedule"
)

// gkeOccurrences expands a recurring window as GKE reads it — RFC 5545 with the subset GKE
// takes: FREQ WEEKLY or MONTHLY, INTERVAL counted from DTSTART (the window's start time, in UTC)
// in weeks starting on Monday or in months, BYDAY with or without a position — and returns the
// starts in [from, to). It is written from the RFC, independently of internal/schedule: it is
// the model the translation is checked against.
func gkeOccurrences(t *testing.T, w *container.RecurringTimeWindow, from, to time.Time) []time.Time {
	t.Helper()
	dtstart, err := time.Parse(time.RFC3339, w.Window.StartTime)
	if err != nil {
		t.Fatal(err)
	}
	dtstart = dtstart.UTC()
	freq, interval, days := "", 1, []string(nil)
	for _, part := range strings.Split(w.Recurrence, ";") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "FREQ":
			freq = v
		case "INTERVAL":
			interval, _ = strconv.Atoi(v)
		case "BYDAY":
			days = strings.Split(v, ",")
		default:
			t.Fatalf("a rule part the model does not know: %s", part)
		}
	}
	weekday := map[string]time.Weekday{"MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday, "SU": time.Sunday}
	at := func(day time.Time) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), dtstart.Hour(), dtstart.Minute(), 0, 0, time.UTC)
	}
	var out []time.Time
	keep := func(s time.Time) {
		if !s.Before(dtstart) && !s.Before(from) && s.Before(to) {
			out = append(out, s)
		}
	}
	switch freq {
	case "WEEKLY":
		monday := func(d time.Time) time.Time {
			d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
			return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		}
		first := monday(dtstart)
		for week := first; week.Before(to); week = week.AddDate(0, 0, 7*interval) {
			for _, d := range days {
				keep(at(week.AddDate(0, 0, (int(weekday[d])+6)%7)))
			}
		}
	case "MONTHLY":
		for m := time.Date(dtstart.Year(), dtstart.Month(), 1, 0, 0, 0, 0, time.UTC); m.Before(to); m = m.AddDate(0, interval, 0) {
			var inMonth []time.Time
			for d := m; d.Month() == m.Month(); d = d.AddDate(0, 0, 1) {
				inMonth = append(inMonth, d)
			}
			for _, spec := range days {
				name := spec[len(spec)-2:]
				var matching []time.Time
				for _, d := range inMonth {
					if d.Weekday() == weekday[name] {
						matching = append(matching, d)
					}
				}
				pos := 0
				if p := spec[:len(spec)-2]; p != "" {
					pos, _ = strconv.Atoi(p)
				}
				switch {
				case pos == 0:
					for _, d := range matching {
						keep(at(d))
					}
				case pos > 0 && pos <= len(matching):
					keep(at(matching[pos-1]))
				case pos < 0 && -pos <= len(matching):
					keep(at(matching[len(matching)+pos]))
				}
			}
		}
	default:
		t.Fatalf("FREQ %q", freq)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.Compact(out)
}

// localStarts are the starts, in [from, to), of the windows' own occurrences.
func localStarts(windows []schedule.Window, from, to time.Time) []time.Time {
	var out []time.Time
	for _, w := range windows {
		for _, iv := range schedule.Occurrences([]schedule.Window{w}, from, to) {
			if !iv.Start.Before(from) && iv.Start.Before(to) {
				out = append(out, iv.Start.UTC())
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.Compact(out)
}

var propertyZones = []string{"UTC", "Europe/Berlin", "Europe/Dublin", "Europe/London", "America/New_York", "America/Santiago", "America/Los_Angeles",
	"Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Chatham", "Antarctica/Troll"}

// randomWindows draws one or two windows in one zone, weekly or monthly, every 1 to 3 weeks or
// months, at any quarter hour, 1 to 23 hours long (so one window's occurrences never overlap).
func randomWindows(rng *rand.Rand) []schedule.Window {
	loc, _ := time.LoadLocation(propertyZones[rng.IntN(len(propertyZones))])
	rec := schedule.Recurrence{Interval: 1 + rng.IntN(3)}
	rec.Monthly = rng.IntN(4) == 0
	for _, d := range rng.Perm(7)[:1+rng.IntN(3)] {
		spec := schedule.DaySpec{Day: time.Weekday(d)}
		if rec.Monthly && rng.IntN(2) == 0 {
			spec.Pos = []int{1, 2, 3, -1}[rng.IntN(4)]
		}
		rec.Days = append(rec.Days, spec)
	}
	if !rec.Monthly {
		// Weekly occurrences of a 23-hour window on consecutive days do not overlap.
		slices.SortFunc(rec.Days, func(a, b schedule.DaySpec) int { return int(a.Day) - int(b.Day) })
	}
	w := schedule.Window{Name: "w", Recur: rec, Hour: rng.IntN(24), Minute: 15 * rng.IntN(4), Duration: time.Duration(1+rng.IntN(23)) * time.Hour, Location: loc}
	out := []schedule.Window{w}
	if rng.IntN(3) == 0 {
		// A second window that GKE can hold only if it shares the first one's UTC start.
		v := w
		v.Name, v.Recur.Days = "v", []schedule.DaySpec{{Day: time.Weekday(rng.IntN(7))}}
		out = append(out, v)
	}
	return out
}

// TestGKEOccurrencesAreTheLocalOnes is the property of the translation: for every policy
// DesiredWindow sends, GKE — reading the rule as RFC 5545 says, counting INTERVAL from the
// start time in UTC — opens the window at exactly the local occurrences, from now until the
// zones' next offset change (when the operator sends the new UTC time), or for 26 weeks in
// zones without one. Policies it cannot translate exactly must be refused, never sent wrong.
func TestGKEOccurrencesAreTheLocalOnes(t *testing.T) {
	const seed, want = 20261201, 5000
	rng := rand.New(rand.NewPCG(seed, seed))
	first, last := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 12, 31, 0, 0, 0, 0, time.UTC)
	sent, refused := 0, map[string]int{}
	for attempt := 0; sent < want; attempt++ {
		if attempt > 50*want {
			t.Fatalf("only %d of %d policies could be sent; the generator draws too few translatable ones", sent, attempt)
		}
		windows := randomWindows(rng)
		now := first.Add(time.Duration(rng.Int64N(int64(last.Sub(first))))).Truncate(time.Minute)
		rw, err := DesiredWindow(windows, now)
		if err != nil {
			refused[strings.SplitN(err.Error(), ":", 2)[0][:6]]++ // "window" or "GKE ke" or "window"s
			continue
		}
		sent++
		from, _ := time.Parse(time.RFC3339, rw.Window.StartTime)
		until := from.Add(26 * 7 * 24 * time.Hour)
		for _, w := range windows {
			if _, end := from.In(w.Location).ZoneBounds(); !end.IsZero() && end.Before(until) {
				until = end
			}
		}
		got, local := gkeOccurrences(t, rw, from, until), localStarts(windows, from, until)
		if !slices.Equal(got, local) {
			t.Fatalf("policy %d (now %s): GKE is told %s from %s, which opens at\n%v\nbut the windows open locally at\n%v\nwindows %s",
				sent, now.Format(time.RFC3339), rw.Recurrence, rw.Window.StartTime, got, local, describe(windows))
		}
		s, _ := time.Parse(time.RFC3339, rw.Window.StartTime)
		e, _ := time.Parse(time.RFC3339, rw.Window.EndTime)
		if e.Sub(s) != windows[0].Duration {
			t.Fatalf("duration %s, want %s", e.Sub(s), windows[0].Duration)
		}
	}
	t.Logf("seed %d: %d policies sent and checked, refused by kind: %v", seed, sent, refused)
}

func describe(windows []schedule.Window) string {
	var out []string
	for _, w := range windows {
		var days []string
		for _, d := range w.Recur.Days {
			days = append(days, fmt.Sprintf("%d%s", d.Pos, d.Day))
		}
		out = append(out, fmt.Sprintf("{%s monthly=%v interval=%d days=%v %02d:%02d %s %s}", w.Name, w.Recur.Monthly, w.Recur.Interval, days, w.Hour, w.Minute, w.Duration, w.Location))
	}
	return strings.Join(out, " ")
}
