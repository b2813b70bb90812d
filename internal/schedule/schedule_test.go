package schedule

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the operator embeds it; the tests use the same database
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func weekly(days ...time.Weekday) Recurrence {
	r := Recurrence{}
	for _, d := range days {
		r.Days = append(r.Days, DaySpec{Day: d})
	}
	return r
}

func TestLocalInstant(t *testing.T) {
	cases := []struct {
		name      string
		zone      string
		y         int
		m         time.Month
		d, h, min int
		want      string
	}{
		{name: "ordinary day, New York", zone: "America/New_York", y: 2026, m: time.July, d: 5, h: 2, min: 30, want: "2026-07-05T06:30:00Z"},
		{name: "skipped: spring forward in New York opens at 03:00 EDT", zone: "America/New_York", y: 2026, m: time.March, d: 8, h: 2, min: 30, want: "2026-03-08T07:00:00Z"},
		{name: "twice: fall back in New York takes the first (EDT)", zone: "America/New_York", y: 2026, m: time.November, d: 1, h: 1, min: 30, want: "2026-11-01T05:30:00Z"},
		{name: "skipped: spring forward in London opens at 02:00 BST", zone: "Europe/London", y: 2026, m: time.March, d: 29, h: 1, min: 30, want: "2026-03-29T01:00:00Z"},
		{name: "twice: fall back in London takes BST", zone: "Europe/London", y: 2026, m: time.October, d: 25, h: 1, min: 30, want: "2026-10-25T00:30:00Z"},
		{name: "skipped: Lord Howe's 30-minute jump opens at 02:30 (+11)", zone: "Australia/Lord_Howe", y: 2026, m: time.October, d: 4, h: 2, min: 15, want: "2026-10-03T15:30:00Z"},
		{name: "twice: Lord Howe's 30-minute fall back takes the first (+11)", zone: "Australia/Lord_Howe", y: 2026, m: time.April, d: 5, h: 1, min: 45, want: "2026-04-04T14:45:00Z"},
		{name: "Tokyo has no DST", zone: "Asia/Tokyo", y: 2026, m: time.March, d: 8, h: 2, min: 30, want: "2026-03-07T17:30:00Z"},
		{name: "midnight", zone: "UTC", y: 2028, m: time.February, d: 29, h: 0, min: 0, want: "2028-02-29T00:00:00Z"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := LocalInstant(tt.y, tt.m, tt.d, tt.h, tt.min, zone(t, tt.zone)).UTC()
			if !got.Equal(utc(tt.want)) {
				t.Errorf("got %s, want %s", got.Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	berlin, ny, tokyo, lhi, london := zone(t, "Europe/Berlin"), zone(t, "America/New_York"), zone(t, "Asia/Tokyo"), zone(t, "Australia/Lord_Howe"), zone(t, "Europe/London")
	tuesdayMorningUTC := Window{Name: "tue", Recur: weekly(time.Tuesday), Hour: 5, Duration: 4 * time.Hour, Location: time.UTC}
	firstSaturday, _ := ParseRRule("FREQ=MONTHLY;BYDAY=1SA")
	lastFriday, _ := ParseRRule("FREQ=MONTHLY;BYDAY=-1FR")
	everyOtherMonday, _ := ParseRRule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO")

	cases := []struct {
		name       string
		windows    []Window
		exclusions []Exclusion
		now        string
		kind       Kind
		allowed    bool
		reason     string
		current    [2]string // start, end; empty when none
		next       string    // next window start
		nextChange string
	}{
		{name: "inside a UTC window", windows: []Window{tuesdayMorningUTC}, now: "2026-12-01T06:00:00Z",
			allowed: true, reason: ReasonInsideWindow, current: [2]string{"2026-12-01T05:00:00Z", "2026-12-01T09:00:00Z"},
			next: "2026-12-08T05:00:00Z", nextChange: "2026-12-01T09:00:00Z"},
		{name: "before a UTC window", windows: []Window{tuesdayMorningUTC}, now: "2026-11-30T12:00:00Z",
			reason: ReasonOutsideWindow, next: "2026-12-01T05:00:00Z", nextChange: "2026-12-01T05:00:00Z"},
		{name: "the end of a window is outside it", windows: []Window{tuesdayMorningUTC}, now: "2026-12-01T09:00:00Z",
			reason: ReasonOutsideWindow, next: "2026-12-08T05:00:00Z", nextChange: "2026-12-08T05:00:00Z"},
		{name: "across midnight in Berlin", now: "2026-12-06T02:00:00Z", // Sunday 03:00 CET
			windows: []Window{{Name: "sat-night", Recur: weekly(time.Saturday), Hour: 22, Duration: 8 * time.Hour, Location: berlin}},
			allowed: true, reason: ReasonInsideWindow, current: [2]string{"2026-12-05T21:00:00Z", "2026-12-06T05:00:00Z"},
			next: "2026-12-12T21:00:00Z", nextChange: "2026-12-06T05:00:00Z"},
		{name: "New York window on the spring-forward night lasts its real duration", now: "2026-03-08T08:00:00Z",
			windows: []Window{{Name: "sun", Recur: weekly(time.Sunday), Hour: 2, Minute: 30, Duration: 2 * time.Hour, Location: ny}},
			allowed: true, reason: ReasonInsideWindow, current: [2]string{"2026-03-08T07:00:00Z", "2026-03-08T09:00:00Z"},
			next: "2026-03-15T06:30:00Z", nextChange: "2026-03-08T09:00:00Z"},
		{name: "New York window on the fall-back night opens at the first 01:30", now: "2026-10-31T12:00:00Z",
			windows: []Window{{Name: "sun", Recur: weekly(time.Sunday), Hour: 1, Minute: 30, Duration: time.Hour, Location: ny}},
			reason:  ReasonOutsideWindow, next: "2026-11-01T05:30:00Z", nextChange: "2026-11-01T05:30:00Z"},
		{name: "London window when 01:30 is skipped", now: "2026-03-28T12:00:00Z",
			windows: []Window{{Name: "sun", Recur: weekly(time.Sunday), Hour: 1, Minute: 30, Duration: time.Hour, Location: london}},
			reason:  ReasonOutsideWindow, next: "2026-03-29T01:00:00Z", nextChange: "2026-03-29T01:00:00Z"},
		{name: "Lord Howe's half-hour shift", now: "2026-10-03T15:45:00Z",
			windows: []Window{{Name: "sun", Recur: weekly(time.Sunday), Hour: 2, Minute: 15, Duration: time.Hour, Location: lhi}},
			allowed: true, reason: ReasonInsideWindow, current: [2]string{"2026-10-03T15:30:00Z", "2026-10-03T16:30:00Z"},
			next: "2026-10-10T15:15:00Z", nextChange: "2026-10-03T16:30:00Z"},
		{name: "Tokyo, first Saturday of the month", now: "2026-12-01T00:00:00Z",
			windows: []Window{{Name: "monthly", Recur: firstSaturday, Hour: 22, Duration: 8 * time.Hour, Location: tokyo}},
			reason:  ReasonOutsideWindow, next: "2026-12-05T13:00:00Z", nextChange: "2026-12-05T13:00:00Z"},
		{name: "last Friday of the month", now: "2026-12-01T00:00:00Z",
			windows: []Window{{Name: "monthly", Recur: lastFriday, Hour: 20, Duration: 4 * time.Hour, Location: time.UTC}},
			reason:  ReasonOutsideWindow, next: "2026-12-25T20:00:00Z", nextChange: "2026-12-25T20:00:00Z"},
		{name: "every other Monday counts from 1 January 2024", now: "2026-11-30T12:00:00Z",
			windows: []Window{{Name: "biweekly", Recur: everyOtherMonday, Hour: 6, Duration: 2 * time.Hour, Location: time.UTC}},
			reason:  ReasonOutsideWindow, next: "2026-12-14T06:00:00Z", nextChange: "2026-12-14T06:00:00Z"},
		{name: "overlapping windows merge", now: "2026-11-30T04:00:00Z",
			windows: []Window{
				{Name: "early", Recur: weekly(time.Monday), Hour: 1, Duration: 3 * time.Hour, Location: time.UTC},
				{Name: "late", Recur: weekly(time.Monday), Hour: 3, Duration: 3 * time.Hour, Location: time.UTC},
			},
			allowed: true, reason: ReasonInsideWindow, current: [2]string{"2026-11-30T01:00:00Z", "2026-11-30T06:00:00Z"},
			next: "2026-12-07T01:00:00Z", nextChange: "2026-11-30T06:00:00Z"},
		{name: "an exclusion inside a window", windows: []Window{tuesdayMorningUTC}, now: "2026-12-01T07:30:00Z",
			exclusions: []Exclusion{{Name: "deploy-freeze", Start: utc("2026-12-01T07:00:00Z"), End: utc("2026-12-01T08:00:00Z"), Scope: NoUpgrades}},
			reason:     ReasonExcluded, current: [2]string{"2026-12-01T05:00:00Z", "2026-12-01T09:00:00Z"},
			next: "2026-12-08T05:00:00Z", nextChange: "2026-12-01T08:00:00Z"},
		{name: "an exclusion ahead ends the allowed stretch early", windows: []Window{tuesdayMorningUTC}, now: "2026-12-01T06:00:00Z",
			exclusions: []Exclusion{{Name: "deploy-freeze", Start: utc("2026-12-01T07:00:00Z"), End: utc("2026-12-01T08:00:00Z"), Scope: NoUpgrades}},
			allowed:    true, reason: ReasonInsideWindow, current: [2]string{"2026-12-01T05:00:00Z", "2026-12-01T09:00:00Z"},
			next: "2026-12-08T05:00:00Z", nextChange: "2026-12-01T07:00:00Z"},
		{name: "a minor-upgrade freeze lets patches through", windows: []Window{tuesdayMorningUTC}, now: "2026-12-01T06:00:00Z", kind: ControlPlanePatch,
			exclusions: []Exclusion{{Name: "year-end", Start: utc("2026-11-30T00:00:00Z"), End: utc("2027-01-04T00:00:00Z"), Scope: NoMinorUpgrades}},
			allowed:    true, reason: ReasonInsideWindow, current: [2]string{"2026-12-01T05:00:00Z", "2026-12-01T09:00:00Z"},
			next: "2026-12-08T05:00:00Z", nextChange: "2026-12-01T09:00:00Z"},
		{name: "a minor-upgrade freeze holds minor upgrades", windows: []Window{tuesdayMorningUTC}, now: "2026-12-01T06:00:00Z", kind: MinorUpgrade,
			exclusions: []Exclusion{{Name: "year-end", Start: utc("2026-11-30T00:00:00Z"), End: utc("2027-01-04T00:00:00Z"), Scope: NoMinorUpgrades}},
			reason:     ReasonExcluded, current: [2]string{"2026-12-01T05:00:00Z", "2026-12-01T09:00:00Z"},
			next: "2026-12-08T05:00:00Z", nextChange: "2026-12-01T09:00:00Z"},
		{name: "a window over the leap day", now: "2028-02-29T12:00:00Z",
			windows: []Window{{Name: "long", Recur: weekly(time.Monday), Hour: 23, Duration: 26 * time.Hour, Location: time.UTC}},
			allowed: true, reason: ReasonInsideWindow, current: [2]string{"2028-02-28T23:00:00Z", "2028-03-01T01:00:00Z"},
			next: "2028-03-06T23:00:00Z", nextChange: "2028-03-01T01:00:00Z"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			a := Evaluate(tt.windows, tt.exclusions, utc(tt.now), tt.kind)
			if a.Allowed != tt.allowed || a.Reason != tt.reason {
				t.Errorf("allowed=%t reason=%s, want %t %s", a.Allowed, a.Reason, tt.allowed, tt.reason)
			}
			switch {
			case tt.current[0] == "" && a.Current != nil:
				t.Errorf("current window %s–%s, want none", a.Current.Start, a.Current.End)
			case tt.current[0] != "" && (a.Current == nil || !a.Current.Start.Equal(utc(tt.current[0])) || !a.Current.End.Equal(utc(tt.current[1]))):
				t.Errorf("current window %+v, want %s–%s", a.Current, tt.current[0], tt.current[1])
			}
			if a.Next == nil || !a.Next.Start.Equal(utc(tt.next)) {
				t.Errorf("next window %+v, want it to start at %s", a.Next, tt.next)
			}
			if !a.NextChange.Equal(utc(tt.nextChange)) {
				t.Errorf("next change %s, want %s", a.NextChange.UTC().Format(time.RFC3339), tt.nextChange)
			}
		})
	}
}

func TestParseRRuleRejects(t *testing.T) {
	for _, s := range []string{"FREQ=DAILY;BYDAY=MO", "FREQ=WEEKLY", "FREQ=MONTHLY;BYDAY=6SA", "FREQ=WEEKLY;INTERVAL=0;BYDAY=MO", "FREQ=WEEKLY;BYDAY=XX", "FREQ=WEEKLY;COUNT=3;BYDAY=MO",
		// RFC 5545: no part twice, no positions in a weekly rule.
		"FREQ=WEEKLY;BYDAY=MO;BYDAY=TU", "FREQ=WEEKLY;INTERVAL=2;INTERVAL=3;BYDAY=MO", "FREQ=WEEKLY;BYDAY=1MO,TU"} {
		if _, err := ParseRRule(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// FuzzEvaluate checks the invariants the controller relies on, for any instant, zone and
// window: the next change is after now; allowed now agrees with the current window and the
// exclusions; the current window holds now and the next one starts after it.
func FuzzEvaluate(f *testing.F) {
	zones := []string{"UTC", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Europe/Berlin"}
	f.Add(int64(1795000000), uint8(2), uint8(2), uint8(30), uint16(120), uint8(0b1010101), int64(3600), int64(7200), uint8(1))
	f.Add(int64(1804000000), uint8(4), uint8(23), uint8(59), uint16(1500), uint8(1), int64(-100000), int64(50), uint8(0))
	f.Fuzz(func(t *testing.T, now int64, z, hour, minute uint8, minutes uint16, days uint8, exclFrom, exclLen int64, scope uint8) {
		loc := zone(t, zones[int(z)%len(zones)])
		w := Window{Name: "w", Hour: int(hour % 24), Minute: int(minute % 60), Duration: time.Duration(60+int(minutes)%(7*24*60)) * time.Minute, Location: loc}
		for d := range 7 {
			if days&(1<<d) != 0 {
				w.Recur.Days = append(w.Recur.Days, DaySpec{Day: time.Weekday(d)})
			}
		}
		if len(w.Recur.Days) == 0 {
			w.Recur.Days = []DaySpec{{Day: time.Wednesday}}
		}
		at := time.Unix(1700000000+now%300000000, 0).UTC()
		start := at.Add(time.Duration(exclFrom%(30*86400)) * time.Second)
		excl := Exclusion{Name: "e", Start: start, End: start.Add(time.Duration(1+abs(exclLen)%(10*86400)) * time.Second),
			Scope: []Scope{NoUpgrades, NoMinorUpgrades, NoMinorOrNodeUpgrades}[int(scope)%3]}
		for _, kind := range []Kind{ControlPlanePatch, NodeUpgrade, MinorUpgrade} {
			a := Evaluate([]Window{w}, []Exclusion{excl}, at, kind)
			if !a.NextChange.IsZero() && !a.NextChange.After(at) {
				t.Fatalf("next change %s is not after now %s", a.NextChange, at)
			}
			if a.Current != nil && !a.Current.Contains(at) {
				t.Fatalf("current window %+v does not hold now %s", a.Current, at)
			}
			// Windows that overlap one another every day make one endless window: no next.
			if (a.Next == nil && a.Current == nil) || (a.Next != nil && !a.Next.Start.After(at)) {
				t.Fatalf("next window %+v does not start after now %s (current %+v)", a.Next, at, a.Current)
			}
			blocked := !at.Before(excl.Start) && at.Before(excl.End) && excl.Scope.Blocks(kind)
			if a.Allowed != (a.Current != nil && !blocked) {
				t.Fatalf("allowed=%t with current=%v blocked=%t", a.Allowed, a.Current != nil, blocked)
			}
		}
	})
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestTheOpenWindowIsOnePeriodFromStartToEnd: windows that overlap are one period, and it keeps
// its start and names until it ends — at 10:00 as at 03:30 — although the first window's own
// occurrence has ended by then.
func TestTheOpenWindowIsOnePeriodFromStartToEnd(t *testing.T) {
	every := Recurrence{Days: []DaySpec{{Day: time.Monday}, {Day: time.Tuesday}, {Day: time.Wednesday}, {Day: time.Thursday}, {Day: time.Friday}, {Day: time.Saturday}, {Day: time.Sunday}}}
	windows := []Window{
		{Name: "a", Recur: every, Hour: 0, Duration: 4 * time.Hour, Location: time.UTC},
		{Name: "b", Recur: every, Hour: 3, Duration: 5 * time.Hour, Location: time.UTC},
		{Name: "c", Recur: every, Hour: 7, Duration: 5 * time.Hour, Location: time.UTC},
	}
	for _, now := range []string{"2026-12-01T03:30:00Z", "2026-12-01T07:30:00Z", "2026-12-01T10:00:00Z", "2026-12-01T11:59:00Z"} {
		a := Evaluate(windows, nil, utc(now), MinorUpgrade)
		if a.Current == nil || !a.Current.Start.Equal(utc("2026-12-01T00:00:00Z")) || !a.Current.End.Equal(utc("2026-12-01T12:00:00Z")) ||
			strings.Join(a.Current.Windows, ",") != "a,b,c" || a.Current.Continuous {
			t.Errorf("at %s: current %+v, want 00:00–12:00 made of a,b,c", now, a.Current)
		}
	}
}

// TestWindowsThatChainForeverAreContinuous: a daily window of 24 hours never closes. It is
// reported continuous, with no invented end, and the policy is evaluated again daily.
func TestWindowsThatChainForeverAreContinuous(t *testing.T) {
	every := Recurrence{Days: []DaySpec{{Day: time.Monday}, {Day: time.Tuesday}, {Day: time.Wednesday}, {Day: time.Thursday}, {Day: time.Friday}, {Day: time.Saturday}, {Day: time.Sunday}}}
	now := utc("2026-12-01T10:00:00Z")
	a := Evaluate([]Window{{Name: "always", Recur: every, Hour: 2, Duration: 24 * time.Hour, Location: time.UTC}}, nil, now, MinorUpgrade)
	if a.Current == nil || !a.Current.Continuous || !a.Allowed {
		t.Fatalf("current %+v, allowed %v: want a continuous open window", a.Current, a.Allowed)
	}
	if !a.NextChange.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("next change %s, want a day from now", a.NextChange)
	}
	// Its start is its earliest occurrence within the last 35 days (since 27 October 10:00): 28
	// October 02:00.
	if want := utc("2026-10-28T02:00:00Z"); !a.Current.Start.Equal(want) {
		t.Errorf("start %s, want %s", a.Current.Start, want)
	}
	// A weekly window of a week and more chains too; one of six days does not.
	week := []Window{{Name: "week", Recur: Recurrence{Days: []DaySpec{{Day: time.Monday}}}, Hour: 0, Duration: 168 * time.Hour, Location: time.UTC}}
	if a := Evaluate(week, nil, now, MinorUpgrade); a.Current == nil || !a.Current.Continuous {
		t.Errorf("168h every Monday: %+v", a.Current)
	}
	week[0].Duration = 144 * time.Hour
	if a := Evaluate(week, nil, now, MinorUpgrade); a.Current == nil || a.Current.Continuous || !a.Current.End.Equal(utc("2026-12-06T00:00:00Z")) {
		t.Errorf("144h every Monday: %+v", a.Current)
	}
}

// TestTheNextWindowIsFoundHoweverFarAway: every 60 months from January 2024, the first Monday:
// the next is 1 January 2029, more than two years after December 2026.
func TestTheNextWindowIsFoundHoweverFarAway(t *testing.T) {
	r, err := ParseRRule("FREQ=MONTHLY;INTERVAL=60;BYDAY=1MO")
	if err != nil {
		t.Fatal(err)
	}
	now := utc("2026-12-01T10:00:00Z")
	a := Evaluate([]Window{{Name: "lustrum", Recur: r, Hour: 5, Duration: 4 * time.Hour, Location: time.UTC}}, nil, now, MinorUpgrade)
	if a.Next == nil || !a.Next.Start.Equal(utc("2029-01-01T05:00:00Z")) || !a.NextChange.Equal(a.Next.Start) {
		t.Errorf("next %+v, next change %s: want 2029-01-01 05:00", a.Next, a.NextChange)
	}
}

// TestAPeriodKeepsTheNamesOfOccurrencesThatEndedInsideIt: a's 72 hours from Monday hold b's two
// hours on Tuesday; the period is "a,b" from its start to its end, not "a" once b's hours are over.
func TestAPeriodKeepsTheNamesOfOccurrencesThatEndedInsideIt(t *testing.T) {
	windows := []Window{
		{Name: "a", Recur: Recurrence{Days: []DaySpec{{Day: time.Monday}}}, Duration: 72 * time.Hour, Location: time.UTC},
		{Name: "b", Recur: Recurrence{Days: []DaySpec{{Day: time.Tuesday}}}, Duration: 2 * time.Hour, Location: time.UTC},
	}
	for _, now := range []string{"2026-11-30T10:00:00Z", "2026-12-01T01:00:00Z", "2026-12-02T12:00:00Z", "2026-12-02T23:59:00Z"} {
		a := Evaluate(windows, nil, utc(now), MinorUpgrade)
		if a.Current == nil || strings.Join(a.Current.Windows, ",") != "a,b" || !a.Current.Start.Equal(utc("2026-11-30T00:00:00Z")) {
			t.Errorf("at %s: current %+v, want the period from Monday 00:00 named a,b", now, a.Current)
		}
	}
}

// TestTheNextWindowIsFoundWhileOneIsOpen: every 61 months on the last Friday, for a day. Inside
// one occurrence the next is five years away and is still reported, as it is from outside.
func TestTheNextWindowIsFoundWhileOneIsOpen(t *testing.T) {
	r, err := ParseRRule("FREQ=MONTHLY;INTERVAL=61;BYDAY=-1FR")
	if err != nil {
		t.Fatal(err)
	}
	w := []Window{{Name: "rare", Recur: r, Hour: 6, Duration: 24 * time.Hour, Location: time.UTC}}
	// January 2024 + 61 months is February 2029; its last Friday is the 23rd; the one after is
	// March 2034, the 31st.
	inside := Evaluate(w, nil, utc("2029-02-23T12:00:00Z"), MinorUpgrade)
	if inside.Current == nil || inside.Next == nil || !inside.Next.Start.Equal(utc("2034-03-31T06:00:00Z")) {
		t.Fatalf("inside: current %+v next %+v, want next 2034-03-31 06:00", inside.Current, inside.Next)
	}
	before := Evaluate(w, nil, utc("2029-02-20T12:00:00Z"), MinorUpgrade)
	if before.Next == nil || !before.Next.Start.Equal(utc("2029-02-23T06:00:00Z")) {
		t.Fatalf("before: next %+v, want 2029-02-23 06:00", before.Next)
	}
	// Far beyond the old 28-year search: every 99 months, a fifth Monday.
	r, _ = ParseRRule("FREQ=MONTHLY;INTERVAL=99;BYDAY=5MO")
	far := Window{Name: "far", Recur: r, Hour: 6, Duration: time.Hour, Location: time.UTC}
	s, ok := far.FirstStart(utc("2026-12-01T00:00:00Z"))
	if !ok || s.In(time.UTC).Weekday() != time.Monday || s.Day() < 29 {
		t.Fatalf("every 99 months on a fifth Monday: %s %v", s, ok)
	}
}
