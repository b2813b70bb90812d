package tenantclass_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantclass"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

var (
	cp    *controlplane.ControlPlane
	op    *controlplane.Operator
	admin client.Client
)

// TestMain runs one control plane and the operator for the package. Admission is off, so a
// second default class can be created, as it can in a race the webhook does not see.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := controlplane.StartEnv(context.Background(), controlplane.Options{}, func(o *operator.Options) { o.EnableWebhooks = false })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A test restarts the operator: stop the one running at the end.
	defer func() { _ = errors.Join(op.Stop(), env.CP.Stop()) }()
	cp, op, admin = env.CP, env.Operator, env.Admin
	if err := CreateTeams(context.Background(), admin, []string{"payments", "ops"}, "gold", "basic", "basic-2"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func getClass(t *testing.T, name string) *platformv1alpha1.TenantClass {
	t.Helper()
	var c platformv1alpha1.TenantClass
	Must(t, admin.Get(context.Background(), client.ObjectKey{Name: name}, &c))
	return &c
}

// readyOf is a class's Ready condition, or an empty one.
func readyOf(c *platformv1alpha1.TenantClass) metav1.Condition {
	if r := meta.FindStatusCondition(c.Status.Conditions, platformv1alpha1.ConditionReady); r != nil {
		return *r
	}
	return metav1.Condition{}
}

func quotaTenant(name, class, cpu string) *platformv1alpha1.TenantNamespace {
	return &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.TenantNamespaceSpec{
			Team: "payments", Class: class,
			Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-payments"}},
			Quota:  &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse(cpu)}},
		},
	}
}

func TestClassReportsItsTenantsAndThoseAboveIt(t *testing.T) {
	ctx := context.Background()
	gold := &platformv1alpha1.TenantClass{
		ObjectMeta: metav1.ObjectMeta{Name: "gold"},
		Spec: platformv1alpha1.TenantClassSpec{Quota: platformv1alpha1.ClassQuota{
			Max: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("4")},
		}},
	}
	Must(t, admin.Create(ctx, gold))
	Eventually(t, 20*time.Second, "an unused class is Ready", func() bool {
		return readyOf(getClass(t, "gold")).Status == metav1.ConditionTrue
	})
	Must(t, admin.Create(ctx, quotaTenant("gold-a", "gold", "2")))
	Must(t, admin.Create(ctx, quotaTenant("gold-b", "gold", "3")))
	Eventually(t, 30*time.Second, "the class counts two tenants", func() bool {
		return getClass(t, "gold").Status.Tenants == 2
	})
	cls := getClass(t, "gold")
	if r := readyOf(cls); r.Status != metav1.ConditionTrue || r.Reason != tenantclass.ReasonAccepted || r.Message != "2 tenants use this class" {
		t.Errorf("Ready = %+v, want True, Accepted, \"2 tenants use this class\"", r)
	}
	if cls.Status.ObservedGeneration != cls.Generation {
		t.Errorf("observedGeneration %d, want %d", cls.Status.ObservedGeneration, cls.Generation)
	}
	// kstatus, as Argo CD and Flux compute it.
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cls)
	Must(t, err)
	if res, err := status.Compute(&unstructured.Unstructured{Object: u}); err != nil || res.Status != status.CurrentStatus {
		t.Errorf("kstatus %v (%v), want Current", res, err)
	}

	// SREs tighten the class below one tenant's quota: the class says how many tenants hold more.
	Update(t, admin, cls, func(c *platformv1alpha1.TenantClass) {
		c.Spec.Quota.Max[corev1.ResourceRequestsCPU] = resource.MustParse("2")
	})
	Eventually(t, 30*time.Second, "the class reports one tenant above it", func() bool {
		return strings.Contains(readyOf(getClass(t, "gold")).Message, "2 tenants use this class; above the class since it was tightened: 1 ")
	})

	// A tenant that goes is no longer counted.
	Must(t, admin.Delete(ctx, quotaTenant("gold-b", "", "1")))
	Eventually(t, 30*time.Second, "the class counts one tenant, within it", func() bool {
		c := getClass(t, "gold")
		return c.Status.Tenants == 1 && readyOf(c).Message == "1 tenant uses this class"
	})
}

func TestSecondDefaultClassStallsBothUntilOneStepsBack(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "basic"}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}}))
	Eventually(t, 20*time.Second, "the only default is Ready", func() bool {
		return readyOf(getClass(t, "basic")).Status == metav1.ConditionTrue
	})

	second := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "basic-2"}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}}
	Must(t, admin.Create(ctx, second))
	for name, other := range map[string]string{"basic": "basic-2", "basic-2": "basic"} {
		Eventually(t, 20*time.Second, name+" reports the duplicate default", func() bool {
			c := getClass(t, name)
			r := readyOf(c)
			return r.Status == metav1.ConditionFalse && r.Reason == tenantclass.ReasonDuplicateDefault &&
				strings.Contains(r.Message, "TenantClass "+other+" also claims to be the default") &&
				meta.IsStatusConditionTrue(c.Status.Conditions, platformv1alpha1.ConditionStalled)
		})
	}
	// A tenant that names no class waits, unprovisioned, rather than guessing between the two.
	nameless := &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: "nameless"},
		Spec:       platformv1alpha1.TenantNamespaceSpec{Team: "ops", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-ops"}}},
	}
	Must(t, admin.Create(ctx, nameless))
	Eventually(t, 20*time.Second, "the tenant without a class is Stalled", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(nameless), nameless))
		r := meta.FindStatusCondition(nameless.Status.Conditions, platformv1alpha1.ConditionReady)
		return r != nil && r.Reason == "ClassNotFound" && strings.Contains(r.Message, "2 TenantClasses claim to be the default")
	})
	Eventually(t, 20*time.Second, "a Warning event says so", func() bool {
		var list eventsv1.EventList
		Must(t, admin.List(ctx, &list))
		for _, e := range list.Items {
			if e.Regarding.Kind == "TenantClass" && e.Reason == tenantclass.ReasonDuplicateDefault && e.Type == corev1.EventTypeWarning {
				return true
			}
		}
		return false
	})

	Update(t, admin, second, func(c *platformv1alpha1.TenantClass) { c.Spec.IsDefault = false })
	for _, name := range []string{"basic", "basic-2"} {
		Eventually(t, 20*time.Second, name+" is Ready again", func() bool {
			c := getClass(t, name)
			return readyOf(c).Status == metav1.ConditionTrue && !meta.IsStatusConditionTrue(c.Status.Conditions, platformv1alpha1.ConditionStalled)
		})
	}
	Eventually(t, 20*time.Second, "the tenant is provisioned in the one default class, which counts it", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(nameless), nameless))
		return meta.IsStatusConditionTrue(nameless.Status.Conditions, platformv1alpha1.ConditionReady) &&
			nameless.Status.Class == "basic" && getClass(t, "basic").Status.Tenants == 1
	})
}

// TestAClassWithoutTenantsSaysZero: zero is a value. A class no tenant uses has tenants: 0 in
// its stored status (so the TENANTS column and the tenants metric show 0, not nothing), and an
// Event says it was accepted.
func TestAClassWithoutTenantsSaysZero(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "unused"}}))
	Eventually(t, 20*time.Second, "the stored status has tenants: 0", func() bool {
		var u unstructured.Unstructured
		u.SetGroupVersionKind(platformv1alpha1.GroupVersion.WithKind("TenantClass"))
		Must(t, admin.Get(ctx, client.ObjectKey{Name: "unused"}, &u))
		n, found, err := unstructured.NestedInt64(u.Object, "status", "tenants")
		return err == nil && found && n == 0
	})
	Eventually(t, 20*time.Second, "an Accepted event about the class", func() bool {
		var list eventsv1.EventList
		Must(t, admin.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault)))
		for _, e := range list.Items {
			if e.Regarding.Kind == "TenantClass" && e.Regarding.Name == "unused" && e.Reason == "Accepted" && e.Note == "no tenant uses this class" {
				return true
			}
		}
		return false
	})
}
