package gkefake_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	container "google.golang.org/api/container/v1"

	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/internal/schedule"
	"github.com/selfserve-dev/selfserve/test/gkefake"
)

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func recurring(start, end, rrule string) *container.MaintenancePolicy {
	return &container.MaintenancePolicy{Window: &container.MaintenanceWindow{RecurringWindow: &container.RecurringTimeWindow{
		Window: &container.TimeWindow{StartTime: start, EndTime: end}, Recurrence: rrule}}}
}

func withExclusion(p *container.MaintenancePolicy, name, start, end, scope string) *container.MaintenancePolicy {
	if p.Window.MaintenanceExclusions == nil {
		p.Window.MaintenanceExclusions = map[string]container.TimeWindow{}
	}
	p.Window.MaintenanceExclusions[name] = container.TimeWindow{StartTime: start, EndTime: end, MaintenanceExclusionOptions: &container.MaintenanceExclusionOptions{Scope: scope}}
	return p
}

// TestTheFakeRefusesWhatGKERefuses is the fake's conformance table: each policy GKE's
// documentation accepts or refuses, and the fake's answer.
func TestTheFakeRefusesWhatGKERefuses(t *testing.T) {
	weekdays := func() *container.MaintenancePolicy {
		return recurring("2026-12-07T01:00:00Z", "2026-12-07T07:00:00Z", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
	}
	many := weekdays()
	for i := range 21 {
		withExclusion(many, fmt.Sprintf("e%d", i), "2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z", "NO_MINOR_UPGRADES")
	}
	both := weekdays()
	both.Window.DailyMaintenanceWindow = &container.DailyMaintenanceWindow{StartTime: "03:00"}
	cases := []struct {
		name   string
		policy *container.MaintenancePolicy
		refuse string // empty: accepted
	}{
		{name: "weekdays, 6 hours", policy: weekdays()},
		{name: "every day", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T05:00:00Z", "FREQ=DAILY")},
		{name: "first and third weekend days of the month, a day each", policy: recurring("2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z", "FREQ=MONTHLY;BYDAY=1SA,1SU,3SA,3SU")},
		{name: "a window that ends before it starts", policy: recurring("2026-12-07T07:00:00Z", "2026-12-07T01:00:00Z", "FREQ=WEEKLY;BYDAY=MO"), refuse: "end time must be"},
		{name: "no recurrence", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T07:00:00Z", ""), refuse: "recurrence: required"},
		{name: "hourly", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T07:00:00Z", "FREQ=HOURLY"), refuse: "not supported"},
		{name: "a rule that is not NAME=VALUE", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T07:00:00Z", "FREQ=WEEKLY;MO"), refuse: "not NAME=VALUE"},
		{name: "an unknown day", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T07:00:00Z", "FREQ=WEEKLY;BYDAY=XX"), refuse: "invalid BYDAY"},
		{name: "a position in a weekly rule", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T07:00:00Z", "FREQ=WEEKLY;BYDAY=1MO"), refuse: "needs FREQ=MONTHLY"},
		{name: "two 4-hour windows a week (36 h in 32 days)", policy: recurring("2026-12-08T01:00:00Z", "2026-12-08T05:00:00Z", "FREQ=WEEKLY;BYDAY=TU,TH"), refuse: "48 hours"},
		{name: "3-hour windows count for nothing", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T04:00:00Z", "FREQ=DAILY"), refuse: "48 hours"},
		{name: "every other month", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T07:00:00Z", "FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR"), refuse: "48 hours"},
		{name: "a daily and a recurring window together", policy: both, refuse: "set only one"},
		{name: "an unknown scope", policy: withExclusion(weekdays(), "x", "2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z", "NO_PATCHES"), refuse: "unknown scope"},
		{name: "an exclusion that ends before it starts", policy: withExclusion(weekdays(), "x", "2027-01-02T00:00:00Z", "2027-01-01T00:00:00Z", "NO_UPGRADES"), refuse: "end time must be"},
		{name: "NO_UPGRADES for 31 days", policy: withExclusion(weekdays(), "x", "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", "NO_UPGRADES"), refuse: "longer than 30 days"},
		{name: "NO_MINOR_UPGRADES for 181 days", policy: withExclusion(weekdays(), "x", "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z", "NO_MINOR_UPGRADES"), refuse: "longer than 180 days"},
		{name: "NO_MINOR_UPGRADES for 90 days leaves patches their availability", policy: withExclusion(weekdays(), "x", "2027-01-01T00:00:00Z", "2027-04-01T00:00:00Z", "NO_MINOR_UPGRADES")},
		{name: "NO_UPGRADES for 30 days takes the availability away", policy: withExclusion(weekdays(), "x", "2027-01-01T00:00:00Z", "2027-01-31T00:00:00Z", "NO_UPGRADES"), refuse: "48 hours"},
		{name: "21 exclusions", policy: many, refuse: "at most 20"},
		{name: "a COUNT the fake does not model", policy: recurring("2026-12-07T01:00:00Z", "2026-12-07T07:00:00Z", "FREQ=DAILY;COUNT=3"), refuse: "not modelled"},
	}
	for _, c := range cases {
		got := gkefake.Refusal(c.policy, now)
		if c.refuse == "" && got != "" || c.refuse != "" && !strings.Contains(got, c.refuse) {
			t.Errorf("%s: the fake answers %q, GKE %q", c.name, got, c.refuse)
		}
	}
}

// TestWhatTheOperatorSendsTheFakeAccepts: for policies drawn at random, every one the operator's
// checks (internal/gke, run by the webhook and before every sync) let through is accepted by the
// fake, whose checks are written apart from them; and every one the operator refuses for its
// availability, with a shortfall within the year the fake looks at, the fake refuses too.
func TestWhatTheOperatorSendsTheFakeAccepts(t *testing.T) {
	const seed = 20261205
	rng := rand.New(rand.NewPCG(seed, seed))
	zones := []string{"UTC", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata", "Africa/Casablanca"}
	sent, availability := 0, 0
	for i := 0; i < 400; i++ {
		loc, _ := time.LoadLocation(zones[rng.IntN(len(zones))])
		rec := schedule.Recurrence{Interval: 1 + rng.IntN(2), Monthly: rng.IntN(3) == 0}
		for _, d := range rng.Perm(7)[:1+rng.IntN(5)] {
			spec := schedule.DaySpec{Day: time.Weekday(d)}
			if rec.Monthly && rng.IntN(2) == 0 {
				spec.Pos = []int{1, 2, -1}[rng.IntN(3)]
			}
			rec.Days = append(rec.Days, spec)
		}
		windows := []schedule.Window{{Name: "w", Recur: rec, Hour: rng.IntN(24), Duration: time.Duration(2+rng.IntN(30)) * time.Hour, Location: loc}}
		var exclusions []schedule.Exclusion
		for j := range rng.IntN(3) {
			start := now.Add(time.Duration(rng.IntN(60*24)) * time.Hour)
			exclusions = append(exclusions, schedule.Exclusion{Name: fmt.Sprintf("e%d", j), Start: start, End: start.Add(time.Duration(1+rng.IntN(35*24)) * time.Hour),
				Scope: []schedule.Scope{schedule.NoUpgrades, schedule.NoMinorUpgrades}[rng.IntN(2)]})
		}
		window, errs := gke.Translate(windows, exclusions, false, now)
		if window == nil {
			continue
		}
		policy := &container.MaintenancePolicy{Window: &container.MaintenanceWindow{RecurringWindow: window, MaintenanceExclusions: gke.DesiredExclusions(exclusions, nil, now)}}
		fake := gkefake.Refusal(policy, now)
		if len(errs) == 0 {
			sent++
			if fake != "" {
				t.Errorf("the operator sends %s from %s (%s) with %+v, the fake refuses it: %s", window.Recurrence, window.Window.StartTime, window.Window.EndTime, exclusions, fake)
			}
			continue
		}
		msg := errs.ToAggregate().Error()
		if i := strings.Index(msg, "the 32 days from "); i >= 0 {
			from, err := time.Parse(time.RFC3339, strings.Fields(msg[i+len("the 32 days from "):])[0])
			if err == nil && from.Before(now.AddDate(1, 0, 0)) && !strings.Contains(msg, "longer") {
				availability++
				if fake == "" {
					t.Errorf("the operator refuses %s from %s with %+v (%s), the fake accepts it", window.Recurrence, window.Window.StartTime, exclusions, msg)
				}
			}
		}
	}
	t.Logf("seed %d: %d policies the operator sends, all accepted by the fake; %d it refuses for availability, all refused by the fake", seed, sent, availability)
	if sent < 50 || availability < 50 {
		t.Fatalf("the generator no longer mixes: %d sent, %d refused for availability", sent, availability)
	}
}
