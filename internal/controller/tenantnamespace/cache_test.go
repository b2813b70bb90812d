package tenantnamespace

import (
	"context"
	"encoding/json"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

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

// TestDigestChildIsIdempotent: client-go's informers may run the transform twice over the same
// object (the watch-list initial sync hands the same object to the store twice); the second
// pass must leave the digest of what the operator applied, not one computed from the
// already-digested copy, or every child reads as drifted after a restart and is applied again.
func TestDigestChildIsIdempotent(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithReturnManagedFields().Build()
	quota := corev1ac.ResourceQuota(QuotaName, "checkout").
		WithLabels(map[string]string{platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue}).
		WithSpec(corev1ac.ResourceQuotaSpec().WithHard(corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20")}))
	if err := c.Apply(ctx, quota, client.FieldOwner(FieldOwner)); err != nil {
		t.Fatal(err)
	}
	var live corev1.ResourceQuota
	if err := c.Get(ctx, client.ObjectKey{Namespace: "checkout", Name: QuotaName}, &live); err != nil {
		t.Fatal(err)
	}
	want, err := appliedDigest(&live)
	if err != nil || want == 0 {
		t.Fatalf("the applied quota has no digest: %d %v", want, err)
	}
	once, err := DigestChild(live.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	twice, err := DigestChild(once.(client.Object).DeepCopyObject())
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range []any{once, twice} {
		if d := cachedDigest(got.(client.Object)); d != want {
			t.Errorf("after %d pass(es) of the transform the cached digest is %x, want %x", i+1, d, want)
		}
	}
	if diff := cmp.Diff(once, twice); diff != "" {
		t.Errorf("a second pass changed the cached child (-once +twice):\n%s", diff)
	}
}
