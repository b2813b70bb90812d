package tenantnamespace_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selfserve-dev/selfserve/internal/controller/tenantnamespace"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// clientGoDigest is appliedDigest as it was, through client-go's Extract functions, which
// convert the whole object (managed fields included).
func clientGoDigest(t testing.TB, obj client.Object) uint64 {
	var applied any
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		applied, err = corev1ac.ExtractNamespace(o, tenantnamespace.FieldOwner)
	case *rbacv1.RoleBinding:
		applied, err = rbacv1ac.ExtractRoleBinding(o, tenantnamespace.FieldOwner)
	case *corev1.ResourceQuota:
		applied, err = corev1ac.ExtractResourceQuota(o, tenantnamespace.FieldOwner)
	case *corev1.LimitRange:
		applied, err = corev1ac.ExtractLimitRange(o, tenantnamespace.FieldOwner)
	case *networkingv1.NetworkPolicy:
		applied, err = networkingv1ac.ExtractNetworkPolicy(o, tenantnamespace.FieldOwner)
	}
	if err != nil {
		t.Fatalf("client-go cannot extract %T: %v", obj, err)
	}
	d, err := tenantnamespace.DigestOf(applied)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// appliedChildren applies one object of each kind the operator applies, with its field manager,
// to kube-apiserver, and returns them as read back with their managed fields; then someone else
// takes one of the operator's labels and adds one of its own, the quota controller writes the
// quota's status, and it returns them again. They carry no managed-by label: the operator
// running beside the test leaves them alone.
func appliedChildren(t testing.TB, ns string) (applied, touched []client.Object) {
	ctx := context.Background()
	labels := map[string]string{"example.com/team": "payments", "example.com/tier": "web"}
	// The children's owner must exist, or the garbage collector deletes them.
	Must(t, admin.Apply(ctx, corev1ac.Namespace(ns).WithLabels(labels).WithAnnotations(map[string]string{"example.com/note": ns}), client.FieldOwner(tenantnamespace.FieldOwner)))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "owner"}}
	Must(t, admin.Create(ctx, cm))
	owner := metav1ac.OwnerReference().WithAPIVersion("v1").WithKind("ConfigMap").WithName("owner").WithUID(cm.UID)
	configs := []runtime.ApplyConfiguration{
		corev1ac.Namespace(ns).WithLabels(labels).WithAnnotations(map[string]string{"example.com/note": ns}),
		rbacv1ac.RoleBinding("selfserve-team", ns).WithLabels(labels).WithOwnerReferences(owner).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName("view")).
			WithSubjects(rbacv1ac.Subject().WithAPIGroup(rbacv1.GroupName).WithKind("Group").WithName("payments"),
				rbacv1ac.Subject().WithKind("ServiceAccount").WithName("deployer").WithNamespace("ci")),
		corev1ac.ResourceQuota(tenantnamespace.QuotaName, ns).WithLabels(labels).WithOwnerReferences(owner).
			WithSpec(corev1ac.ResourceQuotaSpec().WithHard(corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20"), corev1.ResourceRequestsCPU: resource.MustParse("4000m")})),
		corev1ac.LimitRange("selfserve-limits", ns).WithLabels(labels).WithOwnerReferences(owner).
			WithSpec(corev1ac.LimitRangeSpec().WithLimits(corev1ac.LimitRangeItem().WithType(corev1.LimitTypeContainer).
				WithDefault(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}).
				WithDefaultRequest(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}))),
		networkingv1ac.NetworkPolicy("selfserve-isolation", ns).WithLabels(labels).WithOwnerReferences(owner).
			WithSpec(networkingv1ac.NetworkPolicySpec().WithPodSelector(metav1ac.LabelSelector()).
				WithPolicyTypes(networkingv1.PolicyTypeIngress).
				WithIngress(networkingv1ac.NetworkPolicyIngressRule().WithFrom(
					networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector()),
					networkingv1ac.NetworkPolicyPeer().WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"kubernetes.io/metadata.name": "ingress"}))))),
	}
	objects := []client.Object{&corev1.Namespace{}, &rbacv1.RoleBinding{}, &corev1.ResourceQuota{}, &corev1.LimitRange{}, &networkingv1.NetworkPolicy{}}
	keys := []client.ObjectKey{{Name: ns}, {Namespace: ns, Name: "selfserve-team"}, {Namespace: ns, Name: tenantnamespace.QuotaName}, {Namespace: ns, Name: "selfserve-limits"}, {Namespace: ns, Name: "selfserve-isolation"}}
	read := func() []client.Object {
		out := make([]client.Object, len(objects))
		for i, o := range objects {
			out[i] = o.DeepCopyObject().(client.Object)
			Must(t, admin.Get(ctx, keys[i], out[i]))
		}
		return out
	}
	for i, ac := range configs {
		if err := admin.Apply(ctx, ac, client.FieldOwner(tenantnamespace.FieldOwner)); err != nil {
			t.Fatalf("applying %T: %v", objects[i], err)
		}
	}
	applied = read()
	for _, o := range read() {
		// Someone else takes the team label and adds one of its own.
		l := o.GetLabels()
		l["example.com/team"], l["example.com/owner"] = "search", "someone"
		o.SetLabels(l)
		Must(t, admin.Update(ctx, o, client.FieldOwner("kubectl-edit")))
	}
	Eventually(t, 30*time.Second, "the quota controller reports the quota", func() bool {
		var quota corev1.ResourceQuota
		Must(t, admin.Get(ctx, keys[2], &quota))
		return len(quota.Status.Hard) > 0
	})
	return applied, read()
}

// TestAppliedDigestIsClientGosExtract: the digest of what the operator applied, computed from a
// copy without managed fields, equals the one client-go's Extract functions give
// from the whole object: for each kind as applied, and after someone else took one of its
// labels, added another and the quota controller wrote the quota's status. (A different digest
// would make every child look changed after an upgrade: one apply per child.)
func TestAppliedDigestIsClientGosExtract(t *testing.T) {
	applied, touched := appliedChildren(t, "digest-equivalence")
	for stage, objs := range map[string][]client.Object{"as applied": applied, "touched by others": touched} {
		for _, o := range objs {
			got, err := tenantnamespace.AppliedDigest(o)
			if err != nil {
				t.Fatal(err)
			}
			if want := clientGoDigest(t, o); got != want || got == 0 {
				t.Errorf("%s, %T: digest %x, client-go's Extract gives %x", stage, o, got, want)
			}
		}
	}
	for i := range applied {
		a, _ := tenantnamespace.AppliedDigest(applied[i])
		b, _ := tenantnamespace.AppliedDigest(touched[i])
		if a == b {
			t.Errorf("%T: the digest did not change when someone took the operator's label", applied[i])
		}
	}
	// A manager of another name owns nothing of the operator's: an empty extraction.
	other := applied[1].DeepCopyObject().(client.Object)
	other.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "someone", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: applied[1].GetManagedFields()[0].FieldsV1}})
	if got, want := func() uint64 { d, _ := tenantnamespace.AppliedDigest(other); return d }(), clientGoDigest(t, other); got != want {
		t.Errorf("owned by someone else: digest %x, client-go's Extract gives %x", got, want)
	}
}

// BenchmarkAppliedDigest: the cost of the digest the cache transform takes at every watch
// event of a child, against client-go's Extract of the whole object (`go test -bench
// AppliedDigest -run ^$ ./internal/controller/tenantnamespace`).
func BenchmarkAppliedDigest(b *testing.B) {
	_, touched := appliedChildren(b, "digest-bench")
	b.Run("digestApplied", func(b *testing.B) {
		for b.Loop() {
			for _, o := range touched[1:] {
				_, _ = tenantnamespace.AppliedDigest(o)
			}
		}
	})
	b.Run("client-go Extract", func(b *testing.B) {
		for b.Loop() {
			for _, o := range touched[1:] {
				clientGoDigest(b, o)
			}
		}
	})
}
