package tenantnamespace

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// TestCacheLagIsNotReportedAsDrift: a reconcile that runs before the cache has seen the
// operator's own last write (events of different kinds arrive in any order, a restart applies
// every tenant at once) finds a child missing. It is not drift: the apiserver has the child as
// the operator applied it, so nothing is written and no Repair is reported. A child really
// deleted still is.
func TestCacheLagIsNotReportedAsDrift(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, platformv1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	tenant := &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", UID: "u-1"},
		Spec:       platformv1alpha1.TenantNamespaceSpec{Team: "payments", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-payments"}}},
	}
	live := fake.NewClientBuilder().WithScheme(scheme).WithReturnManagedFields().
		WithStatusSubresource(&platformv1alpha1.TenantNamespace{}).
		WithObjects(tenant,
			&platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "payments"}, Spec: platformv1alpha1.TeamSpec{Classes: []string{"standard"}}},
			&platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Spec: platformv1alpha1.TenantClassSpec{
				IsDefault: true, Quota: platformv1alpha1.ClassQuota{Default: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20")}},
				// The fake client cannot apply NetworkPolicies; the ResourceQuota is what this test is about.
				NetworkIsolation: platformv1alpha1.ClassNetworkIsolation{Default: platformv1alpha1.NetworkIsolationNone},
			}}).
		Build()
	// The cache has not seen the ResourceQuota yet.
	var lagging bool
	cache := interceptor.NewClient(live, interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if _, ok := obj.(*corev1.ResourceQuota); ok && lagging {
			return apierrors.NewNotFound(schema.GroupResource{Resource: "resourcequotas"}, key.Name)
		}
		return c.Get(ctx, key, obj, opts...)
	}})
	recorder := &events.FakeRecorder{Events: make(chan string, 100)}
	r := &Reconciler{Client: cache, APIReader: live, Recorder: recorder}
	reconcile := func() {
		t.Helper()
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(tenant)}); err != nil {
			t.Fatal(err)
		}
	}
	repairs := func() []string {
		var out []string
		for {
			select {
			case e := <-recorder.Events:
				// Only the children inside the namespace: the fake client records an empty status as
				// applied on a Namespace (the apiserver does not), so its Namespace never compares equal.
				if strings.Contains(e, "Restored") && !strings.Contains(e, "Restored Namespace") {
					out = append(out, e)
				}
			default:
				return out
			}
		}
	}

	reconcile()
	lagging = true
	reconcile()
	if got := repairs(); len(got) != 0 {
		t.Errorf("the operator's own write, not yet in the cache, was reported as drift: %v", got)
	}

	lagging = false
	if err := live.Delete(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "checkout", Name: QuotaName}}); err != nil {
		t.Fatal(err)
	}
	reconcile()
	// One repair, said twice: about the tenant, and in its namespace (eventf).
	if got := repairs(); len(got) != 2 || got[0] != got[1] || !strings.Contains(got[0], "ResourceQuota "+QuotaName) {
		t.Errorf("a ResourceQuota really deleted: repairs %v, want one (recorded twice)", got)
	}
}
