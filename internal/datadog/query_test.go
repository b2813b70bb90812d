package datadog

import (
	"strings"
	"testing"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestCheckQuery(t *testing.T) {
	cases := []struct {
		query string
		want  string // empty: accepted
	}{
		{"sum:trace.http.request.hits{service:checkout}.as_count()", ""},
		{"sum:http.requests{service:checkout,!code:5xx}.as_count() / sum:http.requests{service:checkout}.as_count()", ""},
		{`avg:latency{env:prod AND service:"check}out"}`, ""},
		{"p99:trace.http.request{service:checkout} by {resource_name}", ""},
		{"sum:http.requests{service:checkout", `'{' is not closed`},
		{"sum:http.requests{service:checkout}.as_count(", `'(' is not closed`},
		{"sum:http.requests{service:checkout)}", `')' at offset 34 closes nothing open`},
		{"sum:http.requests}{", `'}' at offset 17 closes nothing open`},
		{`avg:latency{service:"checkout}`, `a '"' quote is not closed`},
	}
	for _, tt := range cases {
		err := CheckQuery(tt.query)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.query, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%s: %v, want %s", tt.query, err, tt.want)
		}
	}
}

func TestRefusalsNameTheQueryField(t *testing.T) {
	spec := platformv1alpha1.ServiceSLOSpec{Indicator: platformv1alpha1.Indicator{
		Metric: &platformv1alpha1.MetricIndicator{Good: "sum:ok{a:b}.as_count()", Total: "sum:all{a:b.as_count()"},
	}}
	errs := Refusals(spec)
	if len(errs) != 1 || errs[0].Field != "spec.indicator.metric.total" || !strings.Contains(errs[0].Error(), "'{' is not closed: Datadog refuses a query it cannot parse") {
		t.Errorf("metric: %v", errs)
	}
	spec.Indicator = platformv1alpha1.Indicator{TimeSlice: &platformv1alpha1.TimeSliceIndicator{Query: "avg:latency{a:b}}"}}
	if errs := Refusals(spec); len(errs) != 1 || errs[0].Field != "spec.indicator.timeSlice.query" {
		t.Errorf("time slice: %v", errs)
	}
	spec.Indicator = platformv1alpha1.Indicator{Monitors: &platformv1alpha1.MonitorsIndicator{IDs: []int64{1}}}
	if errs := Refusals(spec); len(errs) != 0 {
		t.Errorf("monitors: %v", errs)
	}
}
