package tenantnamespace

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Reasons of the WithinClass condition.
const (
	ReasonWithinClass    = "WithinClass"
	ReasonClassTightened = "ClassTightened"
)

// reportClassConflicts sets WithinClass. Admission keeps new specs within the class (with the
// same rules, tenancy.CheckClass); this catches a class tightened afterwards. Nothing is taken
// away: the tenant keeps its quota, level and bindings, and the condition says what no longer
// fits so its owners can adjust.
func reportClassConflicts(s *scope) {
	errs := tenancy.CheckClass(s.tenant, s.class)
	if len(errs) == 0 {
		s.setCondition(platformv1alpha1.ConditionWithinClass, metav1.ConditionTrue, ReasonWithinClass, "the tenant is within class "+s.class.Name)
		return
	}
	conflicts := make([]string, len(errs))
	for i, e := range errs {
		conflicts[i] = e.Error()
	}
	s.setCondition(platformv1alpha1.ConditionWithinClass, metav1.ConditionFalse, ReasonClassTightened,
		fmt.Sprintf("class %s no longer allows: %s; the tenant keeps what it has until its spec is changed", s.class.Name, strings.Join(conflicts, "; ")))
}
