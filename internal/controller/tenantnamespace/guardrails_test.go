package tenantnamespace_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantnamespace"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// waitReason waits until the tenant's Ready condition has the reason, and returns the tenant.
func waitReason(t *testing.T, name, reason string) *platformv1alpha1.TenantNamespace {
	t.Helper()
	tenant := &platformv1alpha1.TenantNamespace{}
	Eventually(t, 30*time.Second, "TenantNamespace "+name+" says "+reason, func() bool {
		if err := get(t, tenant, "", name); err != nil {
			return false
		}
		ready := meta.FindStatusCondition(tenant.Status.Conditions, platformv1alpha1.ConditionReady)
		return ready != nil && ready.Reason == reason
	})
	return tenant
}

// TestQuotaCapsCannotBeLeftOut: a tenant that names only pods still gets the class's cpu limit
// in its ResourceQuota, and a pod asking for more than the class allows is refused.
func TestQuotaCapsCannotBeLeftOut(t *testing.T) {
	ctx := context.Background()
	tenant := newTenant("capped", "payments")
	tenant.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}}
	Must(t, admin.Create(ctx, tenant))
	waitReady(t, "capped")
	var quota corev1.ResourceQuota
	Must(t, get(t, &quota, "capped", tenantnamespace.QuotaName))
	want := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceRequestsCPU: resource.MustParse("2")}
	if !equalQuantities(quota.Spec.Hard, want) {
		t.Fatalf("ResourceQuota hard %v, want %v: the class default for cpu must not be left out", quota.Spec.Hard, want)
	}
	Eventually(t, 30*time.Second, "kube-controller-manager fills in the quota's usage", func() bool {
		Must(t, get(t, &quota, "capped", tenantnamespace.QuotaName))
		_, ok := quota.Status.Hard[corev1.ResourceRequestsCPU]
		return ok
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "greedy", Namespace: "capped"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		}}}},
	}
	if err := admin.Create(ctx, pod); err == nil || !strings.Contains(err.Error(), "exceeded quota") {
		t.Errorf("a pod asking for 200 CPUs in a namespace that named only pods: %v", err)
	}
}

func equalQuantities(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for name, q := range a {
		if q.Cmp(b[name]) != 0 {
			return false
		}
	}
	return true
}

// TestBudgetHoldsWhenAdmissionIsRaced: with admission off (as when it was raced or bypassed),
// ten tenants of a team with a budget of two arrive at once. Two get namespaces; the others
// wait with OverBudget and no namespace; when one goes, the oldest waiting tenant (creation
// time, then name) takes its place, and only it.
func TestBudgetHoldsWhenAdmissionIsRaced(t *testing.T) {
	ctx := context.Background()
	team := Team("racers", "standard")
	team.Spec.Budget = &platformv1alpha1.TeamBudget{MaxNamespaces: ptr.To[int32](2)}
	Must(t, admin.Create(ctx, team))
	Must(t, Parallel(10, 10, func(i int) error { return admin.Create(ctx, newTenant(fmt.Sprintf("racer-%d", i), "racers")) }))

	// settled waits until every racer is provisioned or waits, and returns those provisioned and
	// those waiting, oldest first.
	settled := func() (provisioned, waiting []platformv1alpha1.TenantNamespace) {
		Eventually(t, 30*time.Second, "every racer is provisioned or waits", func() bool {
			var list platformv1alpha1.TenantNamespaceList
			Must(t, admin.List(ctx, &list))
			provisioned, waiting = nil, nil
			for _, tn := range list.Items {
				if tn.Spec.Team != "racers" || !tn.DeletionTimestamp.IsZero() {
					continue
				}
				ready := meta.FindStatusCondition(tn.Status.Conditions, platformv1alpha1.ConditionReady)
				switch {
				case ready == nil || ready.ObservedGeneration != tn.Generation:
					return false
				case ready.Status == metav1.ConditionTrue:
					provisioned = append(provisioned, tn)
				case ready.Reason == tenancy.ReasonOverBudget:
					waiting = append(waiting, tn)
				default:
					return false
				}
			}
			return true
		})
		slices.SortFunc(waiting, func(a, b platformv1alpha1.TenantNamespace) int {
			if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
				return c
			}
			return cmp.Compare(a.Name, b.Name)
		})
		return provisioned, waiting
	}
	provisioned, waiting := settled()
	if len(provisioned) != 2 || len(waiting) != 8 {
		t.Fatalf("%d provisioned and %d waiting, want 2 and 8", len(provisioned), len(waiting))
	}
	for _, tn := range waiting {
		if err := get(t, &corev1.Namespace{}, "", tn.Name); !apierrors.IsNotFound(err) {
			t.Errorf("%s waits for budget, yet its namespace exists (%v)", tn.Name, err)
		}
		if !meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionStalled) {
			t.Errorf("%s waits but is not Stalled: %v", tn.Name, tn.Status.Conditions)
		}
	}
	if ready := meta.FindStatusCondition(waiting[0].Status.Conditions, platformv1alpha1.ConditionReady); !strings.Contains(ready.Message, "more than its budget of 2") {
		t.Errorf("a waiting tenant says %q", ready.Message)
	}
	Eventually(t, 20*time.Second, "the team reports 2 namespaces, 8 waiting, none left", func() bool {
		Must(t, get(t, team, "", "racers"))
		return team.Status.Namespaces == 2 && team.Status.Waiting == 8 && team.Status.BudgetLeft != nil && ptr.Deref(team.Status.BudgetLeft.Namespaces, -1) == 0
	})

	// A tenant deleted with Retain leaves a released namespace, which keeps its place until it
	// is deleted too; then the oldest waiting tenant takes it.
	Must(t, admin.Delete(ctx, &provisioned[0]))
	var released corev1.Namespace
	Eventually(t, 30*time.Second, provisioned[0].Name+" is released", func() bool {
		return get(t, &released, "", provisioned[0].Name) == nil && released.Labels[tenancy.LabelReleased] == "true"
	})
	Eventually(t, 20*time.Second, "the team still counts 2 namespaces, the released one among them", func() bool {
		Must(t, get(t, team, "", "racers"))
		return team.Status.Namespaces == 2 && team.Status.Waiting == 8
	})
	Must(t, admin.Delete(ctx, &released))
	next := waiting[0].Name
	Eventually(t, 90*time.Second, next+" takes the place of the deleted namespace", func() bool {
		var tn platformv1alpha1.TenantNamespace
		return get(t, &tn, "", next) == nil && meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady)
	})
	provisioned, waiting = settled()
	if len(provisioned) != 2 || len(waiting) != 7 || !slices.ContainsFunc(provisioned, func(tn platformv1alpha1.TenantNamespace) bool { return tn.Name == next }) {
		t.Errorf("after one went: provisioned %v, %d waiting; want %s to have taken its place", names(provisioned), len(waiting), next)
	}
}

func names(tenants []platformv1alpha1.TenantNamespace) []string {
	out := make([]string, len(tenants))
	for i, tn := range tenants {
		out[i] = tn.Name
	}
	return out
}

// TestTenantsKeepTheirNamespacesWhileTheirTeamIsMissing is the upgrade from before Teams:
// tenants provisioned without a Team keep their namespace, data and children, wait with
// TeamNotFound, and are Ready again on the same namespace once the SREs declare the Team.
func TestTenantsKeepTheirNamespacesWhileTheirTeamIsMissing(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, Team("legacy", "standard")))
	tenant := newTenant("old-app", "legacy")
	tenant.Spec.DeletionPolicy = platformv1alpha1.DeletionPolicyDelete
	Must(t, admin.Create(ctx, tenant))
	waitReady(t, "old-app")
	var before corev1.Namespace
	Must(t, get(t, &before, "", "old-app"))
	Must(t, admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "old-app"}}))

	Must(t, admin.Delete(ctx, Team("legacy")))
	waitReason(t, "old-app", tenancy.ReasonTeamNotFound)
	var ns corev1.Namespace
	Must(t, get(t, &ns, "", "old-app"))
	if ns.UID != before.UID || !ns.DeletionTimestamp.IsZero() {
		t.Fatal("the namespace was replaced or is being deleted")
	}
	Must(t, get(t, &corev1.Secret{}, "old-app", "data"))
	Must(t, get(t, &corev1.ResourceQuota{}, "old-app", tenantnamespace.QuotaName))

	Must(t, admin.Create(ctx, Team("legacy", "standard")))
	waitReady(t, "old-app")
	Must(t, get(t, &ns, "", "old-app"))
	if ns.UID != before.UID {
		t.Error("the namespace was replaced")
	}
}

// TestAClassTheTeamMayNotUseProvisionsNothing: a class the team may not use stops a new
// tenant before anything is provisioned.
func TestAClassTheTeamMayNotUseProvisionsNothing(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, Team("narrow", "pci-only")))
	Must(t, admin.Create(ctx, newTenant("narrow-app", "narrow")))
	tenant := waitReason(t, "narrow-app", tenancy.ReasonClassNotAllowed)
	if !meta.IsStatusConditionTrue(tenant.Status.Conditions, platformv1alpha1.ConditionStalled) {
		t.Errorf("not Stalled: %v", tenant.Status.Conditions)
	}
	if err := get(t, &corev1.Namespace{}, "", "narrow-app"); !apierrors.IsNotFound(err) {
		t.Errorf("a namespace exists for a tenant whose class its team may not use: %v", err)
	}
}

// TestNoRepairIsReportedForTheOperatorsOwnWrites: after a restart, tenants created and changed
// at once are provisioned without a single Repair event: what the cache had not caught up with
// yet was the operator's own write, not drift.
func TestNoRepairIsReportedForTheOperatorsOwnWrites(t *testing.T) {
	ctx := context.Background()
	Must(t, op.Stop())
	startOperator(t)

	names := make([]string, 8)
	for i := range names {
		names[i] = fmt.Sprintf("fresh-%d", i)
	}
	Must(t, Parallel(len(names), len(names), func(i int) error { return admin.Create(ctx, newTenant(names[i], "ops")) }))
	for _, name := range names {
		waitReady(t, name)
		Update(t, admin, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("7")}}
		})
	}
	for _, name := range names {
		waitReady(t, name)
	}
	var events eventsv1.EventList
	Must(t, admin.List(ctx, &events))
	for _, e := range events.Items {
		if slices.Contains(names, e.Regarding.Name) && e.Action == "Repair" {
			t.Errorf("%s: %s", e.Regarding.Name, e.Note)
		}
	}
}

// TestMovingTheDefaultClassRehomesNoTenant: a tenant that names no class gets the default class
// of the day and keeps it when the SREs make another class the default; a new tenant gets the
// new default.
func TestMovingTheDefaultClassRehomesNoTenant(t *testing.T) {
	ctx := context.Background()
	Must(t, admin.Create(ctx, Team("rehome", "standard", "rehome-default")))
	Must(t, admin.Create(ctx, newTenant("homed", "rehome")))
	if got := waitReady(t, "homed"); got.Status.Class != "standard" {
		t.Fatalf("class %q, want the default standard", got.Status.Class)
	}
	next := standardClass()
	next.Name = "rehome-default"
	next.Spec.Quota.Default[corev1.ResourceRequestsCPU] = resource.MustParse("6")
	setDefault := func(name string, isDefault bool) {
		Update(t, admin, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: name}}, func(c *platformv1alpha1.TenantClass) { c.Spec.IsDefault = isDefault })
	}
	// Whatever happens here, the other tests find standard the default again.
	defer func() {
		_ = admin.Delete(ctx, next)
		setDefault("standard", true)
	}()
	setDefault("standard", false)
	Must(t, admin.Create(ctx, next))

	Must(t, admin.Create(ctx, newTenant("newcomer", "rehome")))
	if got := waitReady(t, "newcomer"); got.Status.Class != "rehome-default" {
		t.Errorf("the new tenant's class %q, want the new default rehome-default", got.Status.Class)
	}
	// The class change reached the old tenant (tenants naming no class follow any class's
	// change); it answers from its own class.
	Update(t, admin, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "homed"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("30")}}
	})
	got := waitReady(t, "homed")
	var rq corev1.ResourceQuota
	Must(t, get(t, &rq, "homed", "selfserve-quota"))
	if cpu := rq.Spec.Hard[corev1.ResourceRequestsCPU]; got.Status.Class != "standard" || cpu.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("the old tenant moved: class %q, requests.cpu %s; want standard and 2", got.Status.Class, cpu.String())
	}
}

// TestTeamSaysWhichMembersActForNothing: a Team stored before the member rules (admission is off
// here, as for a Team admitted by an older version) keeps a member that stands for everyone and
// a kube-system ServiceAccount; they act for nothing, and the Team's Ready condition says so.
func TestTeamSaysWhichMembersActForNothing(t *testing.T) {
	ctx := context.Background()
	team := Team("legacy-members", "standard")
	team.Spec.Members = append(team.Spec.Members,
		platformv1alpha1.Subject{Kind: "Group", Name: "system:authenticated"},
		platformv1alpha1.Subject{Kind: "ServiceAccount", Namespace: "kube-system", Name: "default"})
	Must(t, admin.Create(ctx, team))
	Eventually(t, 20*time.Second, "the Team names the members that act for nothing", func() bool {
		var tm platformv1alpha1.Team
		Must(t, get(t, &tm, "", "legacy-members"))
		ready := meta.FindStatusCondition(tm.Status.Conditions, platformv1alpha1.ConditionReady)
		return ready != nil && ready.Reason == "MembersIgnored" &&
			strings.Contains(ready.Message, "spec.members[1]: Group system:authenticated") && strings.Contains(ready.Message, "spec.members[2]: ServiceAccount kube-system/default")
	})
}

// TestNamespacesReleasedByAnEarlierVersionAreFenced: a namespace an earlier version released
// (marked released, nothing else: no fence, no Team UID) is fenced when the operator starts:
// the zero quota and the ingress policy of a release now, and the UID of the Team of its name,
// so that a Team re-created under that name later cannot take it. One released since is left
// as it is.
func TestNamespacesReleasedByAnEarlierVersionAreFenced(t *testing.T) {
	ctx := context.Background()
	released := map[string]string{platformv1alpha1.LabelTeam: "data", tenancy.LabelReleased: "true"}
	Must(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "earlier-release", Labels: released}}))
	recent := maps.Clone(released)
	recent[tenancy.LabelTeamUID] = "recorded"
	Must(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "recent-release", Labels: recent}}))

	Must(t, op.Stop())
	startOperator(t)

	var team platformv1alpha1.Team
	Must(t, admin.Get(ctx, client.ObjectKey{Name: "data"}, &team))
	Eventually(t, 30*time.Second, "the earlier release is fenced and names its Team's UID", func() bool {
		var ns corev1.Namespace
		return get(t, &ns, "", "earlier-release") == nil && ns.Labels[tenancy.LabelTeamUID] == string(team.UID) &&
			get(t, &corev1.ResourceQuota{}, "earlier-release", tenantnamespace.ReleasedQuotaName) == nil &&
			get(t, &networkingv1.NetworkPolicy{}, "earlier-release", tenantnamespace.ReleasedPolicyName) == nil
	})
	var quota corev1.ResourceQuota
	Must(t, get(t, &quota, "earlier-release", tenantnamespace.ReleasedQuotaName))
	if pods := quota.Spec.Hard[corev1.ResourcePods]; !pods.IsZero() {
		t.Errorf("the fence admits %s pods, want 0", pods.String())
	}
	var ns corev1.Namespace
	Must(t, get(t, &ns, "", "recent-release"))
	if ns.Labels[tenancy.LabelTeamUID] != "recorded" {
		t.Errorf("a namespace released since was relabelled: %v", ns.Labels)
	}
	if err := get(t, &corev1.ResourceQuota{}, "recent-release", tenantnamespace.ReleasedQuotaName); !apierrors.IsNotFound(err) {
		t.Errorf("a namespace released since was fenced again: %v", err)
	}
}

// TestRestartWritesNothing: an operator restarted (a deploy, a leader change, an OOM kill)
// against tenants it already provisioned finds every child as it wants it and sends no write at
// all: no apply of a child, no status patch, no Event. Counted at both ends: by the operator's
// client, and by kube-apiserver, which serves the applies and tenant patches only the operator
// sends.
func TestRestartWritesNothing(t *testing.T) {
	ctx := context.Background()
	names := make([]string, 12)
	for i := range names {
		names[i] = fmt.Sprintf("restart-%d", i)
	}
	Must(t, Parallel(len(names), len(names), func(i int) error { return admin.Create(ctx, newTenant(names[i], "ops")) }))
	for _, name := range names {
		waitReady(t, name)
	}
	Settled(t, time.Minute, "the operator", op.Requests.Writes)
	served := operatorOnlyWrites(t)
	if served < float64(5*len(names)) {
		t.Fatalf("kube-apiserver counted %.0f applies and tenant patches after %d tenants were provisioned: the count reads nothing", served, len(names))
	}
	Must(t, op.Stop())
	startOperator(t)
	// Every tenant is reconciled by the new process (a restart reconciles them all), then it
	// stays quiet.
	Eventually(t, time.Minute, "the restarted operator reconciles every tenant", func() bool {
		return reconcileCount(t) >= float64(len(names))
	})
	if last := Settled(t, time.Minute, "the restarted operator", op.Requests.Writes); last != 0 {
		t.Errorf("the restarted operator sent %d writes to unchanged tenants, want 0: %v", last, op.Requests.WritesSince(0))
	}
	if now := operatorOnlyWrites(t); now != served {
		t.Errorf("kube-apiserver served %.0f applies and TenantNamespace patches across the restart, want 0", now-served)
	}
}

// operatorOnlyWrites is kube-apiserver's count of the writes only the operator sends here:
// server-side applies (of namespaces and children) and patches of TenantNamespaces (status).
// kube-controller-manager, which also runs, writes neither.
func operatorOnlyWrites(t *testing.T) float64 {
	t.Helper()
	m, err := cp.APIServerMetrics(context.Background())
	Must(t, err)
	var n float64
	for _, s := range m.Series("apiserver_request_total", map[string]string{"dry_run": ""}) {
		verb, resource := controlplane.Label(s, "verb"), controlplane.Label(s, "resource")
		if verb == "APPLY" || verb == "PATCH" && resource == "tenantnamespaces" {
			n += s.GetCounter().GetValue()
		}
	}
	return n
}
