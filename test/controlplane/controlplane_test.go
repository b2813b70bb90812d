package controlplane_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestControlPlaneWithControllerManager starts the whole local control plane once and checks
// what tests rely on it for: the selfserve CRDs are served, the controller manager fills
// ResourceQuota usage and deletes namespaces, users authenticate with their groups, and Stop
// leaves no process behind.
func TestControlPlaneWithControllerManager(t *testing.T) {
	cp, err := controlplane.Start(controlplane.Options{ControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = cp.Stop()
		}
	}()
	children := childProcesses(t)
	for _, want := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if !contains(children, want) {
			t.Errorf("no %s process among children %v", want, children)
		}
	}

	ctx := context.Background()
	c, err := cp.Client()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("CRDs are served", func(t *testing.T) {
		for _, kind := range []string{"TenantClass", "TenantNamespace", "ServiceSLO", "ClusterUpgradePolicy"} {
			if _, err := c.RESTMapper().RESTMapping(platformv1alpha1.GroupVersion.WithKind(kind).GroupKind()); err != nil {
				t.Errorf("%s: %v", kind, err)
			}
		}
	})

	t.Run("quota usage is filled in", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "quota-usage"}}
		Must(t, c.Create(ctx, ns))
		Must(t, c.Create(ctx, &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: ns.Name},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceConfigMaps: resource.MustParse("10")}},
		}))
		Must(t, c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: ns.Name}}))
		Eventually(t, 30*time.Second, "quota usage shows the namespace's config maps", func() bool {
			var q corev1.ResourceQuota
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "q"}, &q); err != nil {
				return false
			}
			used, ok := q.Status.Used[corev1.ResourceConfigMaps]
			return ok && used.Value() >= 1
		})
	})

	t.Run("namespaces are deleted", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "to-delete"}}
		Must(t, c.Create(ctx, ns))
		Must(t, c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns.Name}}))
		Must(t, c.Delete(ctx, ns))
		Eventually(t, 60*time.Second, "the namespace is gone", func() bool {
			err := c.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{})
			return apierrors.IsNotFound(err)
		})
	})

	t.Run("users authenticate with their groups", func(t *testing.T) {
		cfg, err := cp.UserConfig("alice@example.com", "team-payments")
		Must(t, err)
		alice, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
		Must(t, err)
		err = alice.List(ctx, &corev1.NamespaceList{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("listing namespaces as an unprivileged user: got %v, want Forbidden", err)
		}
		if !strings.Contains(err.Error(), `"alice@example.com"`) {
			t.Errorf("the apiserver did not see the user's name: %v", err)
		}
	})

	Must(t, cp.Stop())
	stopped = true
	Eventually(t, 10*time.Second, "no control plane process is left", func() bool {
		return len(childProcesses(t)) == 0
	})
}

// childProcesses returns the command names of this process's live children.
func childProcesses(t *testing.T) []string {
	t.Helper()
	children, ok := ChildProcesses(os.Getpid())
	if !ok {
		t.Skip("no /proc: cannot list child processes")
	}
	var names []string
	for _, name := range children {
		names = append(names, name)
	}
	return names
}

func contains(list []string, prefix string) bool {
	for _, s := range list {
		// /proc comm is cut at 15 characters.
		if strings.HasPrefix(prefix, s) && len(s) >= min(len(prefix), 15) {
			return true
		}
	}
	return false
}
