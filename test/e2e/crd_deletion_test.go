package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestDeletingTheTenantCRDKeepsEveryNamespace: deleting the TenantNamespace CRD (a reinstall
// gone wrong, a careless cleanup) deletes every TenantNamespace with it. Nobody asked for their
// namespaces to go, so even those of deletionPolicy Delete are released, with their data.
func TestDeletingTheTenantCRDKeepsEveryNamespace(t *testing.T) {
	cp, err := controlplane.Start(controlplane.Options{ControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { Must(t, cp.Stop()) }()
	opts := controlplane.TestOptions()
	opts.EnableWebhooks = false
	ctx := context.Background()
	op, err := cp.StartOperator(ctx, opts)
	Must(t, err)
	defer func() { _ = op.Stop() }()
	admin, err := cp.Client()
	Must(t, err)

	Must(t, admin.Create(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}}))
	Must(t, admin.Create(ctx, Team("payments", "standard")))
	for name, policy := range map[string]platformv1alpha1.DeletionPolicy{"wallet": platformv1alpha1.DeletionPolicyDelete, "ledger": platformv1alpha1.DeletionPolicyRetain} {
		Must(t, admin.Create(ctx, &platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: platformv1alpha1.TenantNamespaceSpec{Team: "payments", DeletionPolicy: policy,
				Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-payments"}}},
		}))
		Eventually(t, time.Minute, name+" is Ready", func() bool {
			var tn platformv1alpha1.TenantNamespace
			return admin.Get(ctx, client.ObjectKey{Name: name}, &tn) == nil && meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady)
		})
		Must(t, admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: name}}))
	}

	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	crd.SetName("tenantnamespaces.platform.selfserve.dev")
	Must(t, admin.Delete(ctx, crd))
	Eventually(t, time.Minute, "the CRD and its TenantNamespaces are gone", func() bool {
		return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(crd), crd))
	})

	for _, name := range []string{"wallet", "ledger"} {
		var ns corev1.Namespace
		Eventually(t, 30*time.Second, name+" is released", func() bool {
			Must(t, admin.Get(ctx, client.ObjectKey{Name: name}, &ns))
			return ns.Labels["platform.selfserve.dev/released"] == "true"
		})
		if !ns.DeletionTimestamp.IsZero() {
			t.Errorf("namespace %s is being deleted", name)
		}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: name, Name: "data"}, &corev1.Secret{}); err != nil {
			t.Errorf("the data of %s: %v", name, err)
		}
	}
}
