package tenantnamespace_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantnamespace"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

var (
	cp    *controlplane.ControlPlane
	op    *controlplane.Operator
	admin client.Client
)

// TestMain runs one control plane with kube-controller-manager (quota usage, namespace
// deletion, garbage collection) and the operator for every test of the package. Admission is
// off here: these tests prove what the controller itself guarantees (it must hold when the
// webhook is down or raced); internal/webhook tests admission.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := controlplane.StartEnv(context.Background(), controlplane.Options{ControllerManager: true}, func(o *operator.Options) { o.EnableWebhooks = false })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cp, op, admin = env.CP, env.Operator, env.Admin
	// Stop the operator running at the end: a test restarts it.
	defer func() { _ = errors.Join(op.Stop(), cp.Stop()) }()
	if err := admin.Create(context.Background(), standardClass()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := CreateTeams(context.Background(), admin, []string{"payments", "discovery", "finance", "ops", "search", "data", "platform"},
		"standard", "small", "later", "roomy"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// startOperator starts the operator again (webhooks off, as in TestMain), after a test stopped it.
func startOperator(t *testing.T) {
	t.Helper()
	var err error
	op, err = cp.StartOperatorWithoutWebhooks()
	Must(t, err)
}

func standardClass() *platformv1alpha1.TenantClass {
	return &platformv1alpha1.TenantClass{
		ObjectMeta: metav1.ObjectMeta{Name: "standard"},
		Spec: platformv1alpha1.TenantClassSpec{
			IsDefault: true,
			Quota: platformv1alpha1.ClassQuota{
				Default: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20"), corev1.ResourceRequestsCPU: resource.MustParse("2")},
				Max:     corev1.ResourceList{corev1.ResourcePods: resource.MustParse("100"), corev1.ResourceRequestsCPU: resource.MustParse("16")},
			},
			Limits: &platformv1alpha1.ContainerLimits{
				DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
				Default:        corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
			AllowedClusterRoles: []string{"view", "edit"},
			PodSecurity:         platformv1alpha1.ClassPodSecurity{Default: platformv1alpha1.PodSecurityBaseline, Minimum: platformv1alpha1.PodSecurityBaseline},
			NetworkIsolation:    platformv1alpha1.ClassNetworkIsolation{Default: platformv1alpha1.NetworkIsolationTeam},
		},
	}
}

func newTenant(name, team string) *platformv1alpha1.TenantNamespace {
	return &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.TenantNamespaceSpec{
			Team:   team,
			Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-" + team}},
		},
	}
}

func get(t *testing.T, obj client.Object, namespace, name string) error {
	t.Helper()
	return admin.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, obj)
}

// waitReady waits until the tenant reports Ready=True for its current generation.
func waitReady(t *testing.T, name string) *platformv1alpha1.TenantNamespace {
	t.Helper()
	tenant := &platformv1alpha1.TenantNamespace{}
	Eventually(t, 30*time.Second, "TenantNamespace "+name+" is Ready", func() bool {
		if err := get(t, tenant, "", name); err != nil {
			return false
		}
		return meta.IsStatusConditionTrue(tenant.Status.Conditions, platformv1alpha1.ConditionReady) &&
			tenant.Status.ObservedGeneration == tenant.Generation
	})
	return tenant
}

// waitEvent waits for an event about the object of that kind and name with the reason and
// action, and returns its note.
// waitEvent waits for an Event about kind/name with that reason and action, recorded in
// namespace ("" for any), and returns its note.
func waitEvent(t *testing.T, namespace, kind, name, reason, action string) string {
	t.Helper()
	var note string
	Eventually(t, 20*time.Second, fmt.Sprintf("an event %s/%s on %s %s in %q", reason, action, kind, name, namespace), func() bool {
		var list eventsv1.EventList
		Must(t, admin.List(context.Background(), &list, client.InNamespace(namespace)))
		for _, e := range list.Items {
			if e.Regarding.Kind == kind && e.Regarding.Name == name && e.Reason == reason && e.Action == action {
				note = e.Note
				return true
			}
		}
		return false
	})
	return note
}

func TestDeveloperGetsAReadyNamespaceWithEveryChild(t *testing.T) {
	ctx := context.Background()
	tenant := newTenant("checkout", "payments")
	tenant.Spec.Owners = append(tenant.Spec.Owners, platformv1alpha1.Subject{Kind: "User", Name: "alice@example.com"})
	tenant.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "view", Subjects: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-support"}}}}
	tenant.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("30")}}
	tenant.Spec.Labels = map[string]string{"example.com/cost-center": "cc-1"}
	Must(t, admin.Create(ctx, tenant))
	tenant = waitReady(t, "checkout")
	// The event carries the reason of the condition it explains, and says what was done.
	if note := waitEvent(t, "", "TenantNamespace", "checkout", tenantnamespace.ReasonProvisioned, "Create"); note != "Created namespace checkout for team payments" {
		t.Errorf("creation event says %q", note)
	}
	// The team cannot read default: the Event is in its namespace too.
	if note := waitEvent(t, "checkout", "TenantNamespace", "checkout", tenantnamespace.ReasonProvisioned, "Create"); note != "Created namespace checkout for team payments" {
		t.Errorf("creation event in the tenant's namespace says %q", note)
	}

	var ns corev1.Namespace
	Must(t, get(t, &ns, "", "checkout"))
	for k, v := range map[string]string{
		platformv1alpha1.LabelTeam: "payments", platformv1alpha1.LabelTenant: "checkout", platformv1alpha1.LabelManagedBy: "selfserve",
		"pod-security.kubernetes.io/enforce": "baseline", "example.com/cost-center": "cc-1",
	} {
		if ns.Labels[k] != v {
			t.Errorf("namespace label %s = %q, want %q", k, ns.Labels[k], v)
		}
	}
	if len(ns.OwnerReferences) != 0 {
		t.Errorf("the namespace has owner references %v; the garbage collector would delete it with the tenant", ns.OwnerReferences)
	}

	var owners rbacv1.RoleBinding
	Must(t, get(t, &owners, "checkout", tenantnamespace.OwnersRoleBinding))
	if owners.RoleRef.Name != "admin" || len(owners.Subjects) != 2 {
		t.Errorf("owners binding: roleRef %s, subjects %v", owners.RoleRef.Name, owners.Subjects)
	}
	var view rbacv1.RoleBinding
	Must(t, get(t, &view, "checkout", "selfserve-view"))
	var quota corev1.ResourceQuota
	Must(t, get(t, &quota, "checkout", tenantnamespace.QuotaName))
	if got := quota.Spec.Hard[corev1.ResourcePods]; got.Cmp(resource.MustParse("30")) != 0 {
		t.Errorf("quota pods = %s, want the tenant's 30", got.String())
	}
	var limits corev1.LimitRange
	Must(t, get(t, &limits, "checkout", tenantnamespace.LimitRangeName))
	var policy networkingv1.NetworkPolicy
	Must(t, get(t, &policy, "checkout", tenantnamespace.IsolationPolicyName))
	if sel := policy.Spec.Ingress[0].From[0].NamespaceSelector; sel == nil || sel.MatchLabels[platformv1alpha1.LabelTeam] != "payments" {
		t.Errorf("isolation policy admits %v, want the payments team's namespaces", policy.Spec.Ingress[0].From)
	}

	// kstatus, as Argo CD and Flux compute it.
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tenant)
	Must(t, err)
	res, err := status.Compute(&unstructured.Unstructured{Object: u})
	Must(t, err)
	if res.Status != status.CurrentStatus {
		t.Errorf("kstatus %s (%s), want Current", res.Status, res.Message)
	}
	if tenant.Status.Class != "standard" {
		t.Errorf("status.class = %q, want the default class standard", tenant.Status.Class)
	}

	// Quota usage comes from the ResourceQuota's status, filled by kube-controller-manager.
	Eventually(t, 30*time.Second, "status.quota reports usage", func() bool {
		Must(t, get(t, tenant, "", "checkout"))
		q := tenant.Status.Quota
		return q != nil && q.Used != nil && q.Hard.Pods().Cmp(resource.MustParse("30")) == 0
	})

	// The developer, through the group binding, can work in the namespace.
	aliceCfg, err := cp.UserConfig("alice@example.com", "team-payments")
	Must(t, err)
	alice, err := client.New(aliceCfg, client.Options{Scheme: operator.Scheme()})
	Must(t, err)
	replicas := int32(1)
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "checkout"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if err := alice.Create(ctx, deploy); err != nil {
		t.Errorf("alice (group team-payments) cannot create a Deployment in her namespace: %v", err)
	}
	if err := alice.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: deploy.Spec}); !apierrors.IsForbidden(err) {
		t.Errorf("alice creating a Deployment in default: got %v, want Forbidden", err)
	}
}

func TestDriftIsRepairedAndUnwantedChildrenRemoved(t *testing.T) {
	ctx := context.Background()
	tenant := newTenant("search", "discovery")
	tenant.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "view", Subjects: []platformv1alpha1.Subject{{Kind: "Group", Name: "readers"}}}}
	Must(t, admin.Create(ctx, tenant))
	waitReady(t, "search")

	// Deleted: the isolation policy is back.
	Must(t, admin.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: tenantnamespace.IsolationPolicyName, Namespace: "search"}}))
	Eventually(t, 20*time.Second, "the deleted NetworkPolicy is restored", func() bool {
		return get(t, &networkingv1.NetworkPolicy{}, "search", tenantnamespace.IsolationPolicyName) == nil
	})
	if note := waitEvent(t, "", "TenantNamespace", "search", tenantnamespace.ReasonProvisioned, "Repair"); !strings.Contains(note, "NetworkPolicy "+tenantnamespace.IsolationPolicyName) {
		t.Errorf("repair event says %q, want it to name the NetworkPolicy", note)
	}

	// Edited: the quota goes back to the class default.
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: tenantnamespace.QuotaName, Namespace: "search"}}
	Update(t, admin, quota, func(q *corev1.ResourceQuota) { q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("1000") })
	Eventually(t, 20*time.Second, "the edited ResourceQuota is restored", func() bool {
		Must(t, get(t, quota, "search", tenantnamespace.QuotaName))
		return quota.Spec.Hard.Pods().Cmp(resource.MustParse("20")) == 0
	})

	// The cache keeps children as digests of what the operator applied, carried in a label of
	// the cached copy. An edit that plants the digest the operator's copy has is still an edit.
	var cachedLimits corev1.LimitRange
	Must(t, op.Manager.GetClient().Get(ctx, client.ObjectKey{Namespace: "search", Name: tenantnamespace.LimitRangeName}, &cachedLimits))
	const digestLabel = "selfserve.internal/applied-digest"
	if cachedLimits.Spec.Limits != nil || cachedLimits.ManagedFields != nil || cachedLimits.Labels[digestLabel] == "" {
		t.Errorf("the cached LimitRange is not a digest: spec %v, %d managed fields, labels %v",
			cachedLimits.Spec, len(cachedLimits.ManagedFields), cachedLimits.Labels)
	}
	limits := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: tenantnamespace.LimitRangeName, Namespace: "search"}}
	Update(t, admin, limits, func(l *corev1.LimitRange) {
		l.Labels[digestLabel] = cachedLimits.Labels[digestLabel]
		l.Spec.Limits[0].Default[corev1.ResourceMemory] = resource.MustParse("64Gi")
	})
	Eventually(t, 20*time.Second, "the edited LimitRange is restored despite the planted digest", func() bool {
		Must(t, get(t, limits, "search", tenantnamespace.LimitRangeName))
		return limits.Spec.Limits[0].Default.Memory().Cmp(resource.MustParse("64Gi")) != 0
	})

	// No longer asked for: the extra binding and the isolation policy go.
	Update(t, admin, tenant, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.RoleBindings = nil
		tn.Spec.NetworkIsolation = platformv1alpha1.NetworkIsolationNone
	})
	Eventually(t, 20*time.Second, "the unwanted binding and policy are removed", func() bool {
		return apierrors.IsNotFound(get(t, &rbacv1.RoleBinding{}, "search", "selfserve-view")) &&
			apierrors.IsNotFound(get(t, &networkingv1.NetworkPolicy{}, "search", tenantnamespace.IsolationPolicyName))
	})
	waitReady(t, "search")
}

func TestClassChangeReachesItsTenants(t *testing.T) {
	ctx := context.Background()
	cls := standardClass()
	cls.Name, cls.Spec.IsDefault = "small", false
	Must(t, admin.Create(ctx, cls))
	tenant := newTenant("billing", "payments")
	tenant.Spec.Class = "small"
	Must(t, admin.Create(ctx, tenant))
	waitReady(t, "billing")

	// Classes are updated with retries: the operator writes their status meanwhile.
	Update(t, admin, cls, func(c *platformv1alpha1.TenantClass) {
		c.Spec.Quota.Default[corev1.ResourcePods] = resource.MustParse("7")
	})
	Eventually(t, 20*time.Second, "the tenant's quota follows the class default", func() bool {
		var q corev1.ResourceQuota
		return get(t, &q, "billing", tenantnamespace.QuotaName) == nil && q.Spec.Hard.Pods().Cmp(resource.MustParse("7")) == 0
	})

	// Following the class is a change, not a repair: only a real repair, made after it, is
	// reported as one.
	Must(t, admin.Delete(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: tenantnamespace.LimitRangeName, Namespace: "billing"}}))
	waitEvent(t, "", "TenantNamespace", "billing", tenantnamespace.ReasonProvisioned, "Repair")
	var list eventsv1.EventList
	Must(t, admin.List(ctx, &list))
	for _, e := range list.Items {
		if e.Regarding.Name == "billing" && e.Action == "Repair" && !strings.Contains(e.Note, "LimitRange "+tenantnamespace.LimitRangeName) {
			t.Errorf("a repair was reported that was not one: %s", e.Note)
		}
	}
}

func TestMissingClassStallsTheTenantUntilItAppears(t *testing.T) {
	ctx := context.Background()
	tenant := newTenant("reports", "finance")
	tenant.Spec.Class = "later"
	Must(t, admin.Create(ctx, tenant))
	Eventually(t, 20*time.Second, "the tenant is Stalled with ClassNotFound", func() bool {
		Must(t, get(t, tenant, "", "reports"))
		ready := meta.FindStatusCondition(tenant.Status.Conditions, platformv1alpha1.ConditionReady)
		return ready != nil && ready.Status == metav1.ConditionFalse && ready.Reason == tenantnamespace.ReasonClassNotFound &&
			strings.Contains(ready.Message, `TenantClass "later" does not exist`) &&
			meta.IsStatusConditionTrue(tenant.Status.Conditions, platformv1alpha1.ConditionStalled)
	})
	// Nothing is provisioned without guard rails.
	if err := get(t, &corev1.Namespace{}, "", "reports"); !apierrors.IsNotFound(err) {
		t.Errorf("the namespace of a tenant without a class exists: %v", err)
	}

	cls := standardClass()
	cls.Name, cls.Spec.IsDefault = "later", false
	Must(t, admin.Create(ctx, cls))
	if got := waitReady(t, "reports"); got.Status.Class != "later" {
		t.Errorf("status.class = %q, want later", got.Status.Class)
	}
}

func TestUnchangedTenantCausesNoWrites(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, newTenant("steady", "ops")))
	tenant := waitReady(t, "steady")
	versions := func() map[string]string {
		out := map[string]string{}
		for name, obj := range map[string]client.Object{
			"tenant": &platformv1alpha1.TenantNamespace{}, "namespace": &corev1.Namespace{}, "owners": &rbacv1.RoleBinding{},
			"quota": &corev1.ResourceQuota{}, "limits": &corev1.LimitRange{}, "policy": &networkingv1.NetworkPolicy{},
		} {
			ns, n := "steady", map[string]string{"owners": tenantnamespace.OwnersRoleBinding, "quota": tenantnamespace.QuotaName,
				"limits": tenantnamespace.LimitRangeName, "policy": tenantnamespace.IsolationPolicyName}[name]
			if name == "tenant" || name == "namespace" {
				ns, n = "", "steady"
			}
			Must(t, get(t, obj, ns, n))
			out[name] = obj.GetResourceVersion()
		}
		return out
	}
	// Let the quota usage settle: kube-controller-manager writes the ResourceQuota's status once.
	Eventually(t, 30*time.Second, "quota usage is reported", func() bool {
		Must(t, get(t, tenant, "", "steady"))
		return tenant.Status.Quota != nil && tenant.Status.Quota.Used != nil
	})
	// And the class's count of its tenants, which follows tenant changes after a short delay.
	Eventually(t, 30*time.Second, "the class counts its tenants", func() bool {
		var tenants platformv1alpha1.TenantNamespaceList
		Must(t, admin.List(ctx, &tenants))
		var cls platformv1alpha1.TenantClass
		Must(t, get(t, &cls, "", "standard"))
		var n int32
		for _, tn := range tenants.Items {
			if tn.Status.Class == "standard" {
				n++
			}
		}
		return cls.Status.Tenants == n
	})
	before := versions()
	reconciles := reconcileCount(t)
	writes := op.Requests.Writes()

	// A change to the class annotations re-reconciles every tenant without changing anything.
	Update(t, admin, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}}, func(c *platformv1alpha1.TenantClass) {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations["touched"] = time.Now().String()
	})
	Eventually(t, 20*time.Second, "the tenants were reconciled again", func() bool {
		return reconcileCount(t) > reconciles
	})
	if after := versions(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a reconcile of an unchanged tenant changed objects:\nbefore %v\nafter  %v", before, after)
	}
	// Even a no-op server-side apply is a request; an unchanged tenant must cost none. Other
	// tenants of this package are reconciled too, and are just as unchanged, unless a test
	// running beside this one is still converging; tests here run one at a time.
	if got := op.Requests.Writes() - writes; got != 0 {
		t.Errorf("re-reconciling unchanged tenants sent %d write requests, want 0: %v", got, op.Requests.WritesSince(writes))
	}
}

// reconcileCount is how many TenantNamespace reconciles the operator has finished.
func reconcileCount(t *testing.T) float64 {
	t.Helper()
	n, err := op.Reconciles("tenantnamespace")
	Must(t, err)
	return n
}

func TestExistingNamespaceIsNeverAdopted(t *testing.T) {
	ctx := context.Background()
	legacy := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Labels: map[string]string{"owner": "someone"}}}
	Must(t, admin.Create(ctx, legacy))
	Must(t, admin.Create(ctx, newTenant("legacy", "payments")))
	tenant := &platformv1alpha1.TenantNamespace{}
	Eventually(t, 20*time.Second, "the tenant is Stalled on the existing namespace", func() bool {
		Must(t, get(t, tenant, "", "legacy"))
		c := meta.FindStatusCondition(tenant.Status.Conditions, platformv1alpha1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == tenantnamespace.ReasonNamespaceExists
	})
	var ns corev1.Namespace
	Must(t, get(t, &ns, "", "legacy"))
	if ns.Labels[platformv1alpha1.LabelTenant] != "" || ns.Labels["owner"] != "someone" {
		t.Errorf("the existing namespace was changed: labels %v", ns.Labels)
	}
	var bindings rbacv1.RoleBindingList
	Must(t, admin.List(ctx, &bindings, client.InNamespace("legacy")))
	if len(bindings.Items) != 0 {
		t.Errorf("bindings were created in a namespace that is not the tenant's: %v", bindings.Items)
	}
	// Deleting the tenant leaves the namespace alone.
	Must(t, admin.Delete(ctx, tenant))
	Eventually(t, 20*time.Second, "the tenant is gone", func() bool {
		return apierrors.IsNotFound(get(t, &platformv1alpha1.TenantNamespace{}, "", "legacy"))
	})
	Must(t, get(t, &ns, "", "legacy"))
	// Nothing said about the tenant reaches the namespace of someone else.
	var events eventsv1.EventList
	Must(t, admin.List(ctx, &events, client.InNamespace("legacy")))
	for _, e := range events.Items {
		if e.ReportingController == "selfserve" {
			t.Errorf("selfserve recorded an Event in a namespace that is not the tenant's: %s %s %q", e.Regarding.Kind, e.Reason, e.Note)
		}
	}
	if !ns.DeletionTimestamp.IsZero() {
		t.Error("the unmanaged namespace is being deleted")
	}
}

func TestRetainKeepsDataAndReadoptsForTheSameTeam(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, newTenant("orders", "payments")))
	waitReady(t, "orders")
	Must(t, admin.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "orders"}}))

	Must(t, admin.Delete(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "orders"}}))
	Eventually(t, 20*time.Second, "the tenant is gone", func() bool {
		return apierrors.IsNotFound(get(t, &platformv1alpha1.TenantNamespace{}, "", "orders"))
	})
	// A Retain tenant holds no finalizer: it goes at once, and its namespace is released after.
	var ns corev1.Namespace
	Eventually(t, 20*time.Second, "the namespace is released", func() bool {
		Must(t, get(t, &ns, "", "orders"))
		return ns.Labels[tenantnamespace.LabelReleased] == "true"
	})
	// The namespace outlives the tenant, so the event is on the namespace, and in it.
	for _, in := range []string{"", "orders"} {
		if note := waitEvent(t, in, "Namespace", "orders", tenantnamespace.ReasonReleased, "Release"); !strings.Contains(note, "contents are kept") {
			t.Errorf("release event (namespace %q) says %q", in, note)
		}
	}
	if !ns.DeletionTimestamp.IsZero() || ns.Labels[platformv1alpha1.LabelTenant] != "" || ns.Labels[platformv1alpha1.LabelManagedBy] != "" ||
		ns.Labels[platformv1alpha1.LabelTeam] != "payments" || ns.Labels["pod-security.kubernetes.io/enforce"] == "" {
		t.Errorf("released namespace: deleting=%t labels=%v", !ns.DeletionTimestamp.IsZero(), ns.Labels)
	}
	if err := get(t, &corev1.ConfigMap{}, "orders", "data"); err != nil {
		t.Errorf("the tenant's data is gone: %v", err)
	}
	if !apierrors.IsNotFound(get(t, &rbacv1.RoleBinding{}, "orders", tenantnamespace.OwnersRoleBinding)) {
		t.Error("the owners binding survived the release")
	}

	// Another team may not take the released namespace.
	Must(t, admin.Create(ctx, newTenant("orders", "search")))
	Eventually(t, 20*time.Second, "another team's tenant is refused", func() bool {
		var tn platformv1alpha1.TenantNamespace
		Must(t, get(t, &tn, "", "orders"))
		return meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionStalled)
	})
	Must(t, admin.Delete(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "orders"}}))
	Eventually(t, 20*time.Second, "the refused tenant is gone", func() bool {
		return apierrors.IsNotFound(get(t, &platformv1alpha1.TenantNamespace{}, "", "orders"))
	})

	// The same team re-adopts it, data included.
	Must(t, admin.Create(ctx, newTenant("orders", "payments")))
	waitReady(t, "orders")
	Must(t, get(t, &ns, "", "orders"))
	if ns.Labels[tenantnamespace.LabelReleased] != "" || ns.Labels[platformv1alpha1.LabelTenant] != "orders" {
		t.Errorf("re-adopted namespace labels: %v", ns.Labels)
	}
	if err := get(t, &corev1.ConfigMap{}, "orders", "data"); err != nil {
		t.Errorf("the data did not survive re-adoption: %v", err)
	}
}

// TestRetainDeletionNeverWaitsOnTheOperator deletes a Retain tenant while the operator is down:
// with no finalizer it goes at once (a stopped or uninstalled operator never leaves it stuck),
// and the operator releases the namespace, data kept, when it is back.
func TestRetainDeletionNeverWaitsOnTheOperator(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, newTenant("ledger", "finance")))
	tenant := waitReady(t, "ledger")
	if len(tenant.Finalizers) != 0 {
		t.Errorf("a Retain tenant holds finalizers %v", tenant.Finalizers)
	}
	Must(t, admin.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ledger"}}))

	Must(t, op.Stop())
	Must(t, admin.Delete(ctx, tenant))
	if err := get(t, &platformv1alpha1.TenantNamespace{}, "", "ledger"); !apierrors.IsNotFound(err) {
		t.Fatalf("the tenant is still there with the operator down: %v", err)
	}
	startOperator(t)

	var ns corev1.Namespace
	Eventually(t, 30*time.Second, "the restarted operator releases the namespace", func() bool {
		Must(t, get(t, &ns, "", "ledger"))
		return ns.Labels[tenantnamespace.LabelReleased] == "true"
	})
	if ns.Labels[platformv1alpha1.LabelManagedBy] != "" || ns.Labels[platformv1alpha1.LabelTeam] != "finance" {
		t.Errorf("released namespace labels: %v", ns.Labels)
	}
	if err := get(t, &corev1.ConfigMap{}, "ledger", "data"); err != nil {
		t.Errorf("the tenant's data is gone: %v", err)
	}
	Eventually(t, 30*time.Second, "the operator's children are gone", func() bool {
		var rbs rbacv1.RoleBindingList
		Must(t, admin.List(ctx, &rbs, client.InNamespace("ledger"), client.MatchingLabels{platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue}))
		return len(rbs.Items) == 0
	})
}

func TestDeletePolicyDeletesTheNamespace(t *testing.T) {
	ctx := context.Background()
	tenant := newTenant("scratch", "ops")
	tenant.Spec.DeletionPolicy = platformv1alpha1.DeletionPolicyDelete
	Must(t, admin.Create(ctx, tenant))
	if got := waitReady(t, "scratch").Finalizers; len(got) != 1 || got[0] != tenantnamespace.Finalizer {
		t.Errorf("a Delete tenant holds finalizers %v, want %s: the namespace must go first", got, tenantnamespace.Finalizer)
	}
	Must(t, admin.Delete(ctx, tenant))
	Eventually(t, 60*time.Second, "the namespace and the tenant are gone", func() bool {
		return apierrors.IsNotFound(get(t, &corev1.Namespace{}, "", "scratch")) &&
			apierrors.IsNotFound(get(t, &platformv1alpha1.TenantNamespace{}, "", "scratch"))
	})
}

func TestTightenedClassKeepsQuotaAndReportsTheConflict(t *testing.T) {
	ctx := context.Background()
	cls := standardClass()
	cls.Name, cls.Spec.IsDefault = "roomy", false
	Must(t, admin.Create(ctx, cls))
	tenant := newTenant("analytics", "data")
	tenant.Spec.Class = "roomy"
	tenant.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("80")}}
	Must(t, admin.Create(ctx, tenant))
	tenant = waitReady(t, "analytics")
	if !meta.IsStatusConditionTrue(tenant.Status.Conditions, platformv1alpha1.ConditionWithinClass) {
		t.Errorf("WithinClass is not True for a tenant within its class: %v", tenant.Status.Conditions)
	}

	Update(t, admin, cls, func(c *platformv1alpha1.TenantClass) {
		c.Spec.Quota.Max[corev1.ResourcePods] = resource.MustParse("50")
	})
	Eventually(t, 20*time.Second, "the tenant reports the tightened class", func() bool {
		Must(t, get(t, tenant, "", "analytics"))
		c := meta.FindStatusCondition(tenant.Status.Conditions, platformv1alpha1.ConditionWithinClass)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == tenantnamespace.ReasonClassTightened
	})
	c := meta.FindStatusCondition(tenant.Status.Conditions, platformv1alpha1.ConditionWithinClass)
	if want := `spec.quota.hard[pods]: Invalid value: "80": exceeds the maximum of class roomy: 50`; !strings.Contains(c.Message, want) {
		t.Errorf("WithinClass message %q does not say %q", c.Message, want)
	}
	if !meta.IsStatusConditionTrue(tenant.Status.Conditions, platformv1alpha1.ConditionReady) {
		t.Error("a tightened class made the tenant unready; its workloads keep running")
	}
	var q corev1.ResourceQuota
	Must(t, get(t, &q, "analytics", tenantnamespace.QuotaName))
	if q.Spec.Hard.Pods().Cmp(resource.MustParse("80")) != 0 {
		t.Errorf("quota pods = %s; the tenant must keep its 80", q.Spec.Hard.Pods())
	}
}

func TestNodeLocalDNSInjectionOnlyWhileTheCacheIsThere(t *testing.T) {
	ctx := context.Background()
	CreateClusterDNS(t, admin)
	tenant := newTenant("fastdns", "platform")
	tenant.Spec.DNS = &platformv1alpha1.DNSConfig{NodeLocalCache: platformv1alpha1.NodeLocalCacheEnabled}
	Must(t, admin.Create(ctx, tenant))

	dnsCondition := func() *metav1.Condition {
		var tn platformv1alpha1.TenantNamespace
		Must(t, get(t, &tn, "", "fastdns"))
		return meta.FindStatusCondition(tn.Status.Conditions, platformv1alpha1.ConditionDNSReady)
	}
	injectionLabel := func() string {
		var ns corev1.Namespace
		if err := get(t, &ns, "", "fastdns"); err != nil {
			return "<no namespace>"
		}
		return ns.Labels[nodelocaldns.LabelInjection]
	}

	// No DaemonSet: no label, and a condition that says why.
	Eventually(t, 20*time.Second, "DNSReady=False NodeLocalDNSMissing", func() bool {
		c := dnsCondition()
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == tenantnamespace.ReasonNodeLocalDNSMissing
	})
	if l := injectionLabel(); l != "" {
		t.Fatalf("namespace labelled for injection (%q) without a cache", l)
	}

	// A DaemonSet with no ready pod: still no label.
	SetNodeLocalDNS(t, admin, 0, 3)
	Eventually(t, 20*time.Second, "DNSReady=False NodeLocalDNSNotReady", func() bool {
		c := dnsCondition()
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == tenantnamespace.ReasonNodeLocalDNSNotReady
	})
	if l := injectionLabel(); l != "" {
		t.Fatalf("namespace labelled for injection (%q) while no cache pod is ready", l)
	}

	// Ready: the namespace is labelled, for the admission policy (this apiserver serves
	// MutatingAdmissionPolicy), with the settings it gives pods.
	SetNodeLocalDNS(t, admin, 3, 3)
	Eventually(t, 20*time.Second, "the namespace is labelled for injection", func() bool {
		return injectionLabel() == nodelocaldns.InjectionPolicy && dnsCondition().Status == metav1.ConditionTrue
	})
	// Nodes come and go: the cache's pod counts move, the decision does not, and the tenant's
	// status is not rewritten. (A tenant annotation forces a reconcile to look.)
	waitReady(t, "fastdns")
	var before platformv1alpha1.TenantNamespace
	Eventually(t, 30*time.Second, "quota usage is reported (kube-controller-manager writes it once)", func() bool {
		Must(t, get(t, &before, "", "fastdns"))
		return before.Status.Quota != nil && before.Status.Quota.Used != nil
	})
	reconciles := reconcileCount(t)
	SetNodeLocalDNS(t, admin, 2, 4)
	Update(t, admin, tenant, func(tn *platformv1alpha1.TenantNamespace) { tn.Annotations = map[string]string{"poke": "1"} })
	Eventually(t, 20*time.Second, "the tenant was reconciled again", func() bool { return reconcileCount(t) > reconciles })
	var after platformv1alpha1.TenantNamespace
	Must(t, get(t, &after, "", "fastdns"))
	if diff := cmp.Diff(before.Status, after.Status); diff != "" {
		t.Errorf("a change of cache pod counts rewrote the tenant's status (-before +after):\n%s", diff)
	}

	// Isolation restricts ingress only, so both DNS addresses (the cache and the fallback)
	// stay reachable on 53/UDP and 53/TCP whatever the tenant's isolation.
	var policy networkingv1.NetworkPolicy
	Must(t, get(t, &policy, "fastdns", tenantnamespace.IsolationPolicyName))
	if diff := cmp.Diff([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, policy.Spec.PolicyTypes); diff != "" || len(policy.Spec.Egress) != 0 {
		t.Errorf("the isolation policy restricts egress (policyTypes -want +got):\n%s", diff)
	}

	if v, err := controlplane.Metric("selfserve_admission_by_policy", map[string]string{"feature": "dns"}); err != nil || v != 1 {
		t.Errorf("selfserve_admission_by_policy{feature=dns} = %v (%v), want 1", v, err)
	}
	// kube-apiserver gives the settings itself: with the operator stopped (and no webhook
	// anywhere in this control plane), a new pod still gets them.
	Must(t, op.Stop())
	var pod *corev1.Pod
	Eventually(t, 20*time.Second, "a pod created while the operator is down gets the cache", func() bool {
		pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: "fastdns"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
		return admin.Create(ctx, pod, client.DryRunAll) == nil && pod.Spec.DNSPolicy == corev1.DNSNone
	})
	if pod.Spec.DNSConfig == nil || len(pod.Spec.DNSConfig.Nameservers) != 2 || pod.Spec.DNSConfig.Nameservers[0] != "169.254.20.10" || pod.Spec.DNSConfig.Nameservers[1] != ClusterDNSIP ||
		pod.Annotations[nodelocaldns.AnnotationInjected] != "nameservers=169.254.20.10,"+ClusterDNSIP {
		t.Errorf("the pod got dnsConfig %+v, annotations %v", pod.Spec.DNSConfig, pod.Annotations)
	}
	startOperator(t)

	// Disabled by the tenant: the label goes.
	Update(t, admin, tenant, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.DNS.NodeLocalCache = platformv1alpha1.NodeLocalCacheDisabled
	})
	Eventually(t, 20*time.Second, "the injection label is removed", func() bool {
		c := dnsCondition()
		return injectionLabel() == "" && c.Reason == tenantnamespace.ReasonNotRequested
	})

	// Enabled again, then the cache disappears: the label goes with it.
	Update(t, admin, tenant, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.DNS.NodeLocalCache = platformv1alpha1.NodeLocalCacheEnabled
	})
	Eventually(t, 20*time.Second, "labelled again", func() bool { return injectionLabel() == nodelocaldns.InjectionPolicy })
	DeleteNodeLocalDNS(t, admin)
	Eventually(t, 20*time.Second, "the label follows the cache away", func() bool { return injectionLabel() == "" })
}
