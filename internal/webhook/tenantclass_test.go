package webhook_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

var (
	cp        *controlplane.ControlPlane
	k8sClient client.Client
	// cached reads through the manager's cache, which is what the webhook sees.
	cached client.Reader
)

// TestMain runs the real apiserver with the webhook configurations installed and the operator's
// manager serving them, so requests go through admission as they would in a cluster.
func TestMain(m *testing.M) {
	os.Exit(runWithOperator(m))
}

func runWithOperator(m *testing.M) int {
	// The operator's logs would bury a failure's output (the GKE sync has no credentials here).
	ctrl.SetLogger(logr.Discard())
	var err error
	cp, err = controlplane.Start(controlplane.Options{Webhooks: true, ControllerManager: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cp.Stop() }()
	// The Gateway API's HTTPRoute is served before the operator starts, as in a cluster that
	// has it: the host webhook indexes routes of the kinds served at its start.
	if _, err := envtest.InstallCRDs(cp.Config, envtest.CRDInstallOptions{Paths: []string{"testdata/httproutes.yaml"}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	op, err := cp.StartOperator(ctrl.LoggerInto(context.Background(), ctrl.Log), controlplane.TestOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = op.Stop() }()
	cached = op.Manager.GetClient()
	k8sClient, err = cp.Client()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := allowEveryoneToRequestTenants(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := createTeams(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func tenantClass(name string, isDefault bool) *platformv1alpha1.TenantClass {
	return &platformv1alpha1.TenantClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       platformv1alpha1.TenantClassSpec{IsDefault: isDefault},
	}
}

// TestSecondDefaultTenantClassIsRejected: one default class per cluster, so the class of a
// TenantNamespace that names none never depends on list order.
func TestSecondDefaultTenantClassIsRejected(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, tenantClass("standard", true)))
	// The webhook reads the manager's cache; wait until it has seen the first default.
	Eventually(t, 10*time.Second, "the cache holds the default class", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "standard"}, &platformv1alpha1.TenantClass{}) == nil
	})
	err := k8sClient.Create(ctx, tenantClass("second-default", true))
	if !apierrors.IsInvalid(err) {
		t.Fatalf("creating a second default class: got %v, want Invalid", err)
	}
	for _, want := range []string{"spec.isDefault", `"standard" is already the default`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("rejection %q does not say %q", err, want)
		}
	}

	// A class that is not the default is fine, and so is making it the default once the first
	// one steps down. Patches, as kubectl and GitOps tools send them: the operator writes the
	// classes' status meanwhile.
	setDefault := func(name string, isDefault bool) error {
		return k8sClient.Patch(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: name}},
			client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"isDefault":%t}}`, isDefault)))
	}
	Must(t, k8sClient.Create(ctx, tenantClass("restricted", false)))
	if err := setDefault("restricted", true); !apierrors.IsInvalid(err) {
		t.Fatalf("making a second class the default by update: got %v, want Invalid", err)
	}

	Must(t, setDefault("standard", false))
	Eventually(t, 10*time.Second, "the cache sees that the old default stepped down", func() bool {
		var tc platformv1alpha1.TenantClass
		return cached.Get(ctx, client.ObjectKey{Name: "standard"}, &tc) == nil && !tc.Spec.IsDefault
	})
	Must(t, setDefault("restricted", true))
}
