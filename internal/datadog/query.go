package datadog

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Refusals lists what Datadog would refuse in a ServiceSLO's queries, each with its field path,
// beyond what the schema already states (blank queries, thresholds, tags, burn rates): the
// admission webhook refuses the ServiceSLO with them, and the controller does not send a
// ServiceSLO stored before the rule existed.
func Refusals(spec platformv1alpha1.ServiceSLOSpec) field.ErrorList {
	var errs field.ErrorList
	check := func(path *field.Path, query string) {
		if err := CheckQuery(query); err != nil {
			errs = append(errs, field.Invalid(path, query, err.Error()+": Datadog refuses a query it cannot parse"))
		}
	}
	indicator := field.NewPath("spec", "indicator")
	if m := spec.Indicator.Metric; m != nil {
		check(indicator.Child("metric", "good"), m.Good)
		check(indicator.Child("metric", "total"), m.Total)
	}
	if ts := spec.Indicator.TimeSlice; ts != nil {
		check(indicator.Child("timeSlice", "query"), ts.Query)
	}
	return errs
}

// closing pairs each opening delimiter of a metric query with its closing one.
var closing = map[rune]rune{'(': ')', '{': '}', '[': ']'}

// CheckQuery checks the syntax every Datadog metric query shares: parentheses, braces and
// brackets nest and close (outside quoted strings), and quotes close. It does not know metric
// names or functions; Datadog itself answers those.
func CheckQuery(q string) error {
	var open []rune
	var quote rune
	for i, r := range q {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case closing[r] != 0:
			open = append(open, r)
		case r == ')' || r == '}' || r == ']':
			if len(open) == 0 || closing[open[len(open)-1]] != r {
				return fmt.Errorf("%q at offset %d closes nothing open", r, i)
			}
			open = open[:len(open)-1]
		}
	}
	if quote != 0 {
		return fmt.Errorf("a %q quote is not closed", quote)
	}
	if len(open) > 0 {
		return fmt.Errorf("%q is not closed", open[len(open)-1])
	}
	return nil
}
