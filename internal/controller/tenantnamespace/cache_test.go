package tenantnamespace

import (
	"encoding/json"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// TestCompactTenantKeepsWhatTheControllerReads: the cached tenant equals the decoded one but
// for its managed fields, and two tenants decoded apart share their repeated strings.
func TestCompactTenantKeepsWhatTheControllerReads(t *testing.T) {
	decode := func(name string) *platformv1alpha1.TenantNamespace {
		in := platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: name, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}},
			Spec:       platformv1alpha1.TenantNamespaceSpec{Team: "payments", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "payments"}}},
			Status: platformv1alpha1.TenantNamespaceStatus{Class: "standard", Conditions: []metav1.Condition{
				{Type: platformv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonProvisioned, Message: "namespace " + name + " is ready"},
				{Type: platformv1alpha1.ConditionQuotaReady, Status: metav1.ConditionFalse, Reason: ReasonApplyFailed, Message: "quota of " + name},
			}},
		}
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out platformv1alpha1.TenantNamespace
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		return &out
	}
	a, b := decode("checkout"), decode("billing")
	want := a.DeepCopy()
	want.ManagedFields = nil
	ca, err := CompactTenant(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := CompactTenant(b)
	got, other := ca.(*platformv1alpha1.TenantNamespace), cb.(*platformv1alpha1.TenantNamespace)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cached tenant (-want +got):\n%s", diff)
	}
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	for i := range got.Status.Conditions {
		g, o := got.Status.Conditions[i], other.Status.Conditions[i]
		if !same(g.Type, o.Type) || !same(g.Reason, o.Reason) || !same(string(g.Status), string(o.Status)) {
			t.Errorf("condition %s: its type, status and reason are not shared between tenants", g.Type)
		}
		if same(g.Message, o.Message) {
			t.Errorf("condition %s: the tenants' own messages are one string", g.Type)
		}
	}
	if !same(got.Spec.Team, other.Spec.Team) || !same(got.Status.Class, other.Status.Class) {
		t.Error("team and class are not shared between tenants")
	}
	if in := "not a tenant"; func() any { out, _ := CompactTenant(in); return out }() != in {
		t.Error("another object was changed")
	}
}
