package tenantclass

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// TestReconcileWritesOnlyWhenTheStatusChanges reconciles a class against the fake client and
// counts its status patches: the first reconcile writes, a second with nothing changed does
// not, a new tenant does.
func TestReconcileWritesOnlyWhenTheStatusChanges(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := platformv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "standard", Generation: 1}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}}
	tenant := func(name string) *platformv1alpha1.TenantNamespace {
		return &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: platformv1alpha1.TenantNamespaceStatus{Class: "standard"}}
	}
	var patches int
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(class, tenant("a")).
		WithStatusSubresource(class).
		WithIndex(&platformv1alpha1.TenantNamespace{}, resolvedClassIndex, resolvedClass).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			patches++
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		}, SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			patches++ // the status is written whole
			return c.SubResource(sub).Update(ctx, obj, opts...)
		}}).
		Build()
	r := &Reconciler{Client: c, Recorder: events.NewFakeRecorder(10)}
	reconcile := func() *platformv1alpha1.TenantClass {
		t.Helper()
		if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(class)}); err != nil {
			t.Fatal(err)
		}
		var got platformv1alpha1.TenantClass
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(class), &got); err != nil {
			t.Fatal(err)
		}
		return &got
	}

	if got := reconcile(); patches != 1 || got.Status.Tenants != 1 {
		t.Fatalf("first reconcile: %d writes, %d tenants; want 1 and 1", patches, got.Status.Tenants)
	}
	if reconcile(); patches != 1 {
		t.Errorf("a reconcile with nothing changed patched the status (%d patches, want 1)", patches)
	}
	if err := c.Create(context.Background(), tenant("b")); err != nil {
		t.Fatal(err)
	}
	if got := reconcile(); patches != 2 || got.Status.Tenants != 2 {
		t.Errorf("after a new tenant: %d patches, %d tenants; want 2 and 2", patches, got.Status.Tenants)
	}
}
