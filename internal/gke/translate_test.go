package gke

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/selfserve-dev/selfserve/internal/schedule"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func days(ds ...time.Weekday) schedule.Recurrence {
	var r schedule.Recurrence
	for _, d := range ds {
		r.Days = append(r.Days, schedule.DaySpec{Day: d})
	}
	return r
}

func TestDesiredWindowInUTC(t *testing.T) {
	berlin, sydney := zone(t, "Europe/Berlin"), zone(t, "Australia/Sydney")
	firstSat, _ := schedule.ParseRRule("FREQ=MONTHLY;BYDAY=1SA")
	cases := []struct {
		name       string
		windows    []schedule.Window
		now        string
		rrule      string
		start, end string
		err        string
	}{
		{name: "Berlin mornings in winter are an hour earlier in UTC", now: "2026-11-30T12:00:00Z",
			windows: []schedule.Window{{Name: "w", Recur: days(time.Tuesday, time.Thursday), Hour: 5, Duration: 4 * time.Hour, Location: berlin}},
			rrule:   "FREQ=WEEKLY;BYDAY=TH,TU", start: "2026-12-01T04:00:00Z", end: "2026-12-01T08:00:00Z"},
		{name: "and two hours earlier in summer: the sync follows DST", now: "2026-06-01T12:00:00Z",
			windows: []schedule.Window{{Name: "w", Recur: days(time.Tuesday, time.Thursday), Hour: 5, Duration: 4 * time.Hour, Location: berlin}},
			rrule:   "FREQ=WEEKLY;BYDAY=TH,TU", start: "2026-06-02T03:00:00Z", end: "2026-06-02T07:00:00Z"},
		{name: "just after midnight in Berlin is the day before in UTC", now: "2026-11-30T12:00:00Z",
			windows: []schedule.Window{{Name: "w", Recur: days(time.Monday), Hour: 0, Minute: 30, Duration: 4 * time.Hour, Location: berlin}},
			rrule:   "FREQ=WEEKLY;BYDAY=SU", start: "2026-12-06T23:30:00Z", end: "2026-12-07T03:30:00Z"},
		{name: "Monday morning in Sydney is Sunday in UTC", now: "2026-11-30T12:00:00Z",
			windows: []schedule.Window{{Name: "w", Recur: days(time.Monday, time.Saturday), Hour: 8, Duration: 6 * time.Hour, Location: sydney}},
			rrule:   "FREQ=WEEKLY;BYDAY=FR,SU", start: "2026-12-04T21:00:00Z", end: "2026-12-05T03:00:00Z"},
		{name: "windows with the same UTC start merge their days", now: "2026-11-30T12:00:00Z",
			windows: []schedule.Window{
				{Name: "a", Recur: days(time.Tuesday), Hour: 4, Duration: 4 * time.Hour, Location: time.UTC},
				{Name: "b", Recur: days(time.Friday), Hour: 5, Duration: 4 * time.Hour, Location: berlin},
			},
			rrule: "FREQ=WEEKLY;BYDAY=FR,TU", start: "2026-12-01T04:00:00Z", end: "2026-12-01T08:00:00Z"},
		{name: "windows that differ cannot be one GKE window", now: "2026-11-30T12:00:00Z",
			windows: []schedule.Window{
				{Name: "a", Recur: days(time.Tuesday), Hour: 4, Duration: 4 * time.Hour, Location: time.UTC},
				{Name: "b", Recur: days(time.Friday), Hour: 9, Duration: 4 * time.Hour, Location: time.UTC},
			},
			err: "GKE keeps one recurring maintenance window"},
		{name: "a monthly position cannot move to another UTC day", now: "2026-11-30T12:00:00Z",
			windows: []schedule.Window{{Name: "m", Recur: firstSat, Hour: 0, Minute: 30, Duration: 4 * time.Hour, Location: berlin}},
			err:     "cannot shift a monthly position"},
		{name: "a monthly position on the same UTC day", now: "2026-11-30T12:00:00Z",
			windows: []schedule.Window{{Name: "m", Recur: firstSat, Hour: 22, Duration: 8 * time.Hour, Location: berlin}},
			rrule:   "FREQ=MONTHLY;BYDAY=1SA", start: "2026-12-05T21:00:00Z", end: "2026-12-06T05:00:00Z"},
		// Every other week, Monday and Sunday at 00:15 in Berlin: Sunday 23:15 and Saturday 23:15
		// UTC, which are two UTC weeks; GKE would open 6 and 20 March 2027, closed locally.
		{name: "every other week, split over two UTC weeks, is refused", now: "2027-02-21T12:00:00Z",
			windows: []schedule.Window{{Name: "fortnight", Recur: schedule.Recurrence{Interval: 2, Days: []schedule.DaySpec{{Day: time.Monday}, {Day: time.Sunday}}}, Hour: 0, Minute: 15, Duration: 14 * time.Hour, Location: berlin}},
			err:     "the local Monday is Sunday of another week in UTC"},
		{name: "every other Monday, all of it a day earlier in UTC, is sent", now: "2027-02-21T12:00:00Z",
			windows: []schedule.Window{{Name: "fortnight", Recur: schedule.Recurrence{Interval: 2, Days: []schedule.DaySpec{{Day: time.Monday}}}, Hour: 0, Minute: 15, Duration: 14 * time.Hour, Location: berlin}},
			rrule:   "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU", start: "2027-02-21T23:15:00Z", end: "2027-02-22T13:15:00Z"},
		{name: "every other month on another UTC day is refused", now: "2027-02-21T12:00:00Z",
			windows: []schedule.Window{{Name: "bimonthly", Recur: schedule.Recurrence{Monthly: true, Interval: 2, Days: []schedule.DaySpec{{Day: time.Saturday}}}, Hour: 2, Duration: 4 * time.Hour, Location: zone(t, "Asia/Kolkata")}},
			err:     "every 2 months at 02:00 Asia/Kolkata starts on another day in UTC"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DesiredWindow(tt.windows, at(tt.now))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Recurrence != tt.rrule || got.Window.StartTime != tt.start || got.Window.EndTime != tt.end {
				t.Errorf("got %s %s–%s, want %s %s–%s", got.Recurrence, got.Window.StartTime, got.Window.EndTime, tt.rrule, tt.start, tt.end)
			}
		})
	}
}

func TestDesiredExclusionsWithAGate(t *testing.T) {
	now := at("2026-11-30T12:00:30Z")
	ex := []schedule.Exclusion{
		{Name: "black-friday", Start: at("2026-11-23T00:00:00Z"), End: at("2026-12-01T00:00:00Z"), Scope: schedule.NoUpgrades},
		{Name: "over", Start: at("2026-01-01T00:00:00Z"), End: at("2026-01-02T00:00:00Z"), Scope: schedule.NoUpgrades},
	}
	got := DesiredExclusions(ex, &Gate{Scope: schedule.NoMinorOrNodeUpgrades, Until: at("2026-12-01T12:00:00Z")}, now)
	if len(got) != 2 {
		t.Fatalf("exclusions %v: want black-friday and the gate; an exclusion that is over is dropped", got)
	}
	if bf := got["selfserve-black-friday"]; bf.MaintenanceExclusionOptions.Scope != "NO_UPGRADES" || bf.EndTime != "2026-12-01T00:00:00Z" {
		t.Errorf("black-friday %+v", bf)
	}
	if g := got[GateExclusionName]; g.MaintenanceExclusionOptions.Scope != "NO_MINOR_OR_NODE_UPGRADES" || g.StartTime != "2026-11-30T00:00:00Z" || g.EndTime != "2026-12-01T12:00:00Z" {
		t.Errorf("gate exclusion %+v", g)
	}
}

// availability checks the window GKE would be sent.
func availability(t *testing.T, windows []schedule.Window, exclusions []schedule.Exclusion, now time.Time) error {
	t.Helper()
	rw, err := DesiredWindow(windows, now)
	if err != nil {
		t.Fatal(err)
	}
	return CheckAvailability(rw, exclusions, now)
}

func TestAvailabilityRule(t *testing.T) {
	now := at("2026-11-30T12:00:00Z")
	three := []schedule.Window{{Name: "w", Recur: days(time.Tuesday, time.Wednesday, time.Thursday), Hour: 5, Duration: 4 * time.Hour, Location: time.UTC}}
	if err := availability(t, three, nil, now); err != nil {
		t.Errorf("three 4h windows a week (about 55h in 32 days): %v", err)
	}
	two := []schedule.Window{{Name: "w", Recur: days(time.Tuesday, time.Thursday), Hour: 5, Duration: 4 * time.Hour, Location: time.UTC}}
	if err := availability(t, two, nil, now); err == nil || !strings.Contains(err.Error(), "at least 48h0m0s") {
		t.Errorf("two 4h windows a week (about 36h in 32 days): %v", err)
	}
	short := []schedule.Window{{Name: "w", Recur: days(time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday), Hour: 5, Duration: 3 * time.Hour, Location: time.UTC}}
	if err := availability(t, short, nil, now); err == nil {
		t.Error("3h windows count for nothing (stretches under 4h), yet the rule passed")
	}
	// Twice a week for 5h49m: every 32 days from a midnight hold nine occurrences (52h21m), but
	// the 32 days from Wednesday 03:21:01 cut that day's occurrence and the last Sunday's under 4
	// hours, leaving eight (46h32m). GKE's periods roll; so does the check.
	rolling := []schedule.Window{{Name: "w", Recur: days(time.Wednesday, time.Sunday), Hour: 1, Minute: 32, Duration: 5*time.Hour + 49*time.Minute, Location: time.UTC}}
	if err := availability(t, rolling, nil, now); err == nil || !strings.Contains(err.Error(), "the 32 days from 2026-12-02T03:21:01Z leave 46h32m0s") {
		t.Errorf("a period that starts neither at midnight nor at an occurrence: %v", err)
	}
	freeze := []schedule.Exclusion{{Name: "december", Start: at("2026-12-01T00:00:00Z"), End: at("2027-01-05T00:00:00Z"), Scope: schedule.NoUpgrades}}
	if err := availability(t, three, freeze, now); err == nil {
		t.Error("a five-week freeze leaves no availability, yet the rule passed")
	}
}

// TestGKEGetsTheOffsetInForceAfterAChange: the cases an independent model of the windows found
// GKE told an older occurrence's UTC time, after a DST change, with a window open across it.
func TestGKEGetsTheOffsetInForceAfterAChange(t *testing.T) {
	santiago, la, berlin := zone(t, "America/Santiago"), zone(t, "America/Los_Angeles"), zone(t, "Europe/Berlin")
	mon := func(ds ...time.Weekday) schedule.Recurrence { return days(ds...) }
	cases := []struct {
		name    string
		windows []schedule.Window
		now     string
		// start is GKE's start time; closed is an instant GKE must be closed at (as the windows are).
		start, closed string
	}{
		{name: "Santiago, Mon/Tue/Thu/Sat 06:00 for 48 h, the day after the clocks went back",
			windows: []schedule.Window{{Name: "w", Recur: mon(time.Monday, time.Tuesday, time.Thursday, time.Saturday), Hour: 6, Duration: 48 * time.Hour, Location: santiago}},
			now:     "2028-04-02T12:00:00Z", start: "2028-04-03T10:00:00Z", closed: "2028-04-03T09:30:00Z"},
		{name: "Los Angeles, Sun/Tue 01:00 for 72 h, on the night the clocks go back",
			windows: []schedule.Window{{Name: "w", Recur: mon(time.Sunday, time.Tuesday), Hour: 1, Duration: 72 * time.Hour, Location: la}},
			now:     "2027-11-07T10:00:01Z", start: "2027-11-09T09:00:00Z"},
		{name: "Berlin, two windows at 23:45 for 120 h, the day after the clocks went forward",
			windows: []schedule.Window{
				{Name: "fri", Recur: mon(time.Friday), Hour: 23, Minute: 45, Duration: 120 * time.Hour, Location: berlin},
				{Name: "mon", Recur: mon(time.Monday), Hour: 23, Minute: 45, Duration: 120 * time.Hour, Location: berlin},
			},
			now: "2026-03-30T12:00:00Z", start: "2026-03-30T21:45:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rw, err := DesiredWindow(c.windows, at(c.now))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if rw.Window.StartTime != c.start {
				t.Errorf("GKE starts at %s, want %s (%s)", rw.Window.StartTime, c.start, rw.Recurrence)
			}
			compareWithGKE(t, c.windows, rw, at(c.now))
			if c.closed != "" {
				for _, s := range gkeOccurrences(t, rw, at(c.closed).Add(-c.windows[0].Duration), at(c.closed).Add(time.Second)) {
					if !s.Add(c.windows[0].Duration).Before(at(c.closed)) {
						t.Errorf("GKE is open at %s (from %s); the windows are not", c.closed, s)
					}
				}
				if a := schedule.Evaluate(c.windows, nil, at(c.closed), schedule.MinorUpgrade); a.Current != nil {
					t.Errorf("the windows are open at %s: %+v", c.closed, a.Current)
				}
			}
		})
	}
}

// TestAvailabilityCountsEveryPeriodAhead: the last Monday, the last Saturday and the second to
// last Tuesday, for 32 hours, leave 48 hours in every 32 days of the next 64, but only 40 in
// the 32 days from 27 April 2027, when the last Saturday is the 24th and the last Monday the
// 26th. GKE's 32 days roll over every instant, not only the next two months.
func TestAvailabilityCountsEveryPeriodAhead(t *testing.T) {
	now := at("2026-12-05T12:00:00Z")
	rule, err := schedule.ParseRRule("FREQ=MONTHLY;BYDAY=-1MO,-1SA,-2TU")
	if err != nil {
		t.Fatal(err)
	}
	w := []schedule.Window{{Name: "w", Recur: rule, Hour: 2, Duration: 32 * time.Hour, Location: time.UTC}}
	rw, err := DesiredWindow(w, now)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := utcRule(rw)
	if err := checkSpan(u, nil, now, now.Add(64*24*time.Hour)); err != nil {
		t.Fatalf("the next 64 days: %v", err)
	}
	if err := CheckAvailability(rw, nil, now); err == nil || !strings.Contains(err.Error(), "the 32 days from 2027-04-27T10:00:00Z leave 40h0m0s") {
		t.Errorf("got %v, want the 32 days from 27 April 2027", err)
	}
	// Every Monday to Wednesday for 6 hours passes everywhere in the calendar's cycle.
	rule, _ = schedule.ParseRRule("FREQ=MONTHLY;BYDAY=MO,TU,WE")
	w[0].Recur, w[0].Duration = rule, 6*time.Hour
	if err := availability(t, w, nil, now); err != nil {
		t.Error(err)
	}
}
