package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func tenant(name, specClass, statusClass string, ready metav1.ConditionStatus) *platformv1alpha1.TenantNamespace {
	tn := &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	tn.Spec.Class, tn.Status.Class = specClass, statusClass
	if ready != "" {
		tn.Status.Conditions = []metav1.Condition{{Type: platformv1alpha1.ConditionReady, Status: ready, Reason: "Test"}}
	}
	return tn
}

func TestTenantsGaugeCountsByResolvedClassAndReadiness(t *testing.T) {
	s := platformv1alpha1.SchemeBuilder
	scheme, err := s.Build()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		tenant("a", "", "standard", metav1.ConditionTrue),
		tenant("b", "standard", "standard", metav1.ConditionTrue),
		tenant("c", "standard", "standard", metav1.ConditionFalse),
		tenant("d", "pci", "", ""),
	).Build()
	CountTenants(c)
	defer tenants.reader.Store(nil)
	want := `
# HELP selfserve_tenants TenantNamespaces by class and Ready condition status (True, False, Unknown).
# TYPE selfserve_tenants gauge
selfserve_tenants{class="pci",ready="Unknown"} 1
selfserve_tenants{class="standard",ready="False"} 1
selfserve_tenants{class="standard",ready="True"} 2
`
	if err := testutil.CollectAndCompare(tenants, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
