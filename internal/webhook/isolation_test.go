package webhook_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// refusedWith fails unless err is a refusal that says every one of want.
func refusedWith(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: admitted, want a refusal saying %q", what, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: refusal %q does not say %q", what, err, w)
		}
	}
}

// isolationTeams creates a class and two teams for one test: <prefix>-pay (group
// team-<prefix>-pay, and the given ServiceAccount members) and <prefix>-search.
func isolationTeams(t *testing.T, prefix string, serviceAccounts ...platformv1alpha1.Subject) {
	t.Helper()
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed(prefix)))
	pay := Team(prefix+"-pay", prefix)
	pay.Spec.Members = append(pay.Spec.Members, serviceAccounts...)
	Must(t, k8sClient.Create(ctx, pay))
	Must(t, k8sClient.Create(ctx, Team(prefix+"-search", prefix)))
	Eventually(t, 10*time.Second, "the cache holds the class and teams", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: prefix}, &platformv1alpha1.TenantClass{}) == nil &&
			cached.Get(ctx, client.ObjectKey{Name: prefix + "-search"}, &platformv1alpha1.Team{}) == nil
	})
}

func teamTenant(name, team string) *platformv1alpha1.TenantNamespace {
	return &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.TenantNamespaceSpec{Team: team, Class: strings.SplitN(team, "-", 2)[0],
			Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-" + team}}},
	}
}

func waitReady(t *testing.T, name string) *platformv1alpha1.TenantNamespace {
	t.Helper()
	var tn platformv1alpha1.TenantNamespace
	Eventually(t, 30*time.Second, name+" is Ready", func() bool {
		return k8sClient.Get(context.Background(), client.ObjectKey{Name: name}, &tn) == nil &&
			meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady)
	})
	return &tn
}

// TestServiceAccountMemberBindsItsNamespaceToItsTeam: team pay lists ServiceAccount
// <ns>/pay-deployer while <ns> does not exist. mallory of team search may not take <ns> as her
// tenant (she would create the ServiceAccount and act for pay with its token); the SREs may not
// list a ServiceAccount in a namespace another team holds; and a ServiceAccount whose namespace
// came to belong to another team some other way stops acting for the team at once.
func TestServiceAccountMemberBindsItsNamespaceToItsTeam(t *testing.T) {
	ctx := context.Background()
	deployer := platformv1alpha1.Subject{Kind: "ServiceAccount", Namespace: "sa-argocd", Name: "pay-deployer"}
	isolationTeams(t, "sa", deployer)
	mallory := user(t, "mallory@example.com", "team-sa-search")

	err := mallory.Create(ctx, teamTenant("sa-argocd", "sa-search"))
	refusedWith(t, "mallory taking the namespace of team pay's ServiceAccount", err,
		"metadata.name", "ServiceAccount sa-argocd/pay-deployer, a member of Team sa-pay", "only a tenant of team sa-pay may take it")
	if !apierrors.IsForbidden(err) {
		t.Errorf("want Forbidden, got %v", err)
	}
	// Not even a platform admin makes it another team's.
	refusedWith(t, "an admin giving it to team search", k8sClient.Create(ctx, teamTenant("sa-argocd", "sa-search")), "a member of Team sa-pay")

	// search holds sa-tools; the SREs may not make one of its ServiceAccounts a member of pay.
	Must(t, mallory.Create(ctx, teamTenant("sa-tools", "sa-search")))
	waitReady(t, "sa-tools")
	var pay platformv1alpha1.Team
	Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "sa-pay"}, &pay))
	pay.Spec.Members = append(pay.Spec.Members, platformv1alpha1.Subject{Kind: "ServiceAccount", Namespace: "sa-tools", Name: "ci"})
	refusedWith(t, "a member ServiceAccount in team search's namespace", k8sClient.Update(ctx, &pay),
		"spec.members[2]", "namespace sa-tools belongs to team sa-search")

	// A namespace nobody holds may host a member; the ServiceAccount acts for pay…
	Must(t, k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sa-ci"}}))
	Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "sa-pay"}, &pay))
	pay.Spec.Members = append(pay.Spec.Members, platformv1alpha1.Subject{Kind: "ServiceAccount", Namespace: "sa-ci", Name: "deployer"})
	Must(t, k8sClient.Update(ctx, &pay))
	ci := user(t, "system:serviceaccount:sa-ci:deployer", "system:serviceaccounts", "system:serviceaccounts:sa-ci")
	asCI := teamTenant("sa-from-ci", "sa-pay")
	asCI.Spec.Owners = append(asCI.Spec.Owners, deployerSubject("sa-ci", "deployer"))
	Eventually(t, 10*time.Second, "the ServiceAccount acts for pay", func() bool { return ci.Create(ctx, asCI) == nil })
	// …until its namespace is another team's (here relabelled by hand, as a released namespace
	// of search would be): from then on it acts for nobody.
	Must(t, k8sClient.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sa-ci"}},
		client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"platform.selfserve.dev/team":"sa-search"}}}`))))
	second := teamTenant("sa-from-ci-2", "sa-pay")
	second.Spec.Owners = asCI.Spec.Owners
	refusedWith(t, "the ServiceAccount of a namespace of search acting for pay", ci.Create(ctx, second), "not a member of Team sa-pay")
}

func deployerSubject(ns, name string) platformv1alpha1.Subject {
	return platformv1alpha1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: name}
}

// TestClustersOwnIdentitiesNeverActForATeam: a Team refuses system: users and groups and
// ServiceAccounts of protected namespaces as members, and a name that does not fit the team
// label; a tenant refuses them as owners or subjects, cluster-admin as a binding, and a binding
// that would replace the owners'.
func TestClustersOwnIdentitiesNeverActForATeam(t *testing.T) {
	ctx := context.Background()
	isolationTeams(t, "sys")
	alice := user(t, "alice@example.com", "team-sys-pay")
	for i, m := range []platformv1alpha1.Subject{
		{Kind: "Group", Name: "system:authenticated"},
		{Kind: "Group", Name: "system:masters"},
		{Kind: "Group", Name: "system:serviceaccounts:sys-tools"},
		{Kind: "User", Name: "system:serviceaccount:sys-tools:ci"},
		{Kind: "ServiceAccount", Namespace: "kube-system", Name: "replicaset-controller"},
	} {
		team := Team(fmt.Sprintf("sys-bad-%d", i), "sys")
		team.Spec.Members = append(team.Spec.Members, m)
		err := k8sClient.Create(ctx, team)
		refusedWith(t, "a Team with member "+m.Kind+" "+m.Name, err, "spec.members[1]")
		if !apierrors.IsInvalid(err) {
			t.Errorf("want Invalid, got %v", err)
		}
	}
	refusedWith(t, "a Team whose name does not fit a label value", k8sClient.Create(ctx, Team(strings.Repeat("t", 64), "sys")), "metadata.name")

	for _, c := range []struct {
		name string
		mod  func(*platformv1alpha1.TenantNamespace)
		want []string
	}{
		{"owner system:masters", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Owners = append(tn.Spec.Owners, platformv1alpha1.Subject{Kind: "Group", Name: "system:masters"})
		}, []string{"spec.owners[1]", "system:masters is one of the cluster's own identities"}},
		{"a kube-system ServiceAccount as subject", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "view", Subjects: []platformv1alpha1.Subject{deployerSubject("kube-system", "default")}}}
		}, []string{"spec.roleBindings[0].subjects[0]", "protected namespace"}},
		{"the group of kube-system's ServiceAccounts", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "view", Subjects: []platformv1alpha1.Subject{{Kind: "Group", Name: "system:serviceaccounts:kube-system"}}}}
		}, []string{"spec.roleBindings[0].subjects[0]", "protected namespace kube-system"}},
		{"cluster-admin", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "cluster-admin", Subjects: tn.Spec.Owners}}
		}, []string{"spec.roleBindings[0].clusterRole", "cluster-admin is never bound"}},
		{"a binding named like the owners'", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "owners", Subjects: tn.Spec.Owners}}
		}, []string{"spec.roleBindings[0].clusterRole", "selfserve-owners is the owners' own"}},
	} {
		tn := teamTenant("sys-"+strings.ReplaceAll(c.name, " ", "-")[:12], "sys-pay")
		c.mod(tn)
		refusedWith(t, c.name, alice.Create(ctx, tn), c.want...)
	}
}

// TestEveryChangeOfATenantNeedsItsTeam: metadata is no side door. mallory of another team may
// not set an owner reference (the garbage collector would delete the tenant and, with Delete,
// its namespace), add a finalizer or a label; an owner may not set owner references nor take
// the operator's finalizer off a terminating tenant, but may label it.
func TestEveryChangeOfATenantNeedsItsTeam(t *testing.T) {
	ctx := context.Background()
	isolationTeams(t, "meta")
	alice := user(t, "alice@example.com", "team-meta-pay")
	mallory := user(t, "mallory@example.com", "team-meta-search")
	tn := teamTenant("meta-wallet", "meta-pay")
	tn.Spec.DeletionPolicy = platformv1alpha1.DeletionPolicyDelete
	Must(t, alice.Create(ctx, tn))
	waitReady(t, "meta-wallet")
	patch := func(c client.Client, body string) error {
		return c.Patch(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "meta-wallet"}}, client.RawPatch(types.MergePatchType, []byte(body)))
	}
	dangling := `{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"gone","uid":"00000000-0000-0000-0000-000000000001"}]}}`
	refusedWith(t, "mallory setting an owner reference", patch(mallory, dangling), "not a member of Team meta-pay")
	refusedWith(t, "mallory adding a finalizer", patch(mallory, `{"metadata":{"finalizers":["example.com/hang"]}}`), "not a member of Team meta-pay")
	refusedWith(t, "mallory adding a label", patch(mallory, `{"metadata":{"labels":{"x":"y"}}}`), "not a member of Team meta-pay")
	refusedWith(t, "alice setting an owner reference", patch(alice, dangling), "metadata.ownerReferences", "only platform admins")
	Must(t, patch(alice, `{"metadata":{"labels":{"app.example.com/tier":"gold"}}}`))

	// A finalizer on something in the namespace keeps it terminating, and with it the tenant.
	Must(t, k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Namespace: "meta-wallet", Finalizers: []string{"example.com/hold"}}}))
	Must(t, alice.Delete(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "meta-wallet"}}))
	var cur platformv1alpha1.TenantNamespace
	Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "meta-wallet"}, &cur))
	if cur.DeletionTimestamp.IsZero() || !controllerHolds(&cur) {
		t.Fatalf("the tenant is not terminating with the operator's finalizer: %v", cur.Finalizers)
	}
	refusedWith(t, "alice removing the operator's finalizer", patch(alice, `{"metadata":{"finalizers":null}}`), "metadata.finalizers", tenancy.Finalizer)

	// Let it go.
	Must(t, k8sClient.Patch(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Namespace: "meta-wallet"}}, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))))
	Eventually(t, 60*time.Second, "the tenant is gone with its namespace", func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: "meta-wallet"}, &cur))
	})
}

func controllerHolds(tn *platformv1alpha1.TenantNamespace) bool {
	for _, f := range tn.Finalizers {
		if f == tenancy.Finalizer {
			return true
		}
	}
	return false
}

// TestStatusWritersCannotApprove: a developer with rights on tenantnamespaces/status (a GitOps
// tool often has them) writes what an approval would leave behind — observedGeneration, and
// the pending spec hash as provisionedSpec. Nothing is provisioned: the controller trusts only
// an admin's approval and what the namespace holds.
func TestStatusWritersCannotApprove(t *testing.T) {
	ctx := context.Background()
	isolationTeams(t, "stat")
	dev := user(t, "gus@example.com", "team-stat-pay")
	Must(t, k8sClient.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "stat-status-writer"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{platformv1alpha1.GroupVersion.Group}, Resources: []string{"tenantnamespaces/status"}, Verbs: []string{"get", "patch", "update"}}}}))
	Must(t, k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "stat-status-writer"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "stat-status-writer"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "gus@example.com"}}}))

	tn := teamTenant("stat-big", "stat-pay")
	tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("48")}}
	Must(t, dev.Create(ctx, tn))
	got := approvalOf(t, "stat-big", "AwaitingApproval")
	tamper := fmt.Sprintf(`{"status":{"observedGeneration":%d,"provisionedSpec":%q}}`, got.Generation, got.Status.PendingApproval.SpecHash)
	Eventually(t, 10*time.Second, "gus writes the status (RBAC has his binding)", func() bool {
		return dev.Status().Patch(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "stat-big"}}, client.RawPatch(types.MergePatchType, []byte(tamper))) == nil
	})
	// The controller sees the write (it is a change of the tenant) and puts the derived field
	// back: nothing of this spec was provisioned.
	Eventually(t, 30*time.Second, "the controller clears the planted provisionedSpec", func() bool {
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "stat-big"}, got))
		return got.Status.ProvisionedSpec == ""
	})
	if c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.ConditionApprovalRequired); c == nil || c.Reason != "AwaitingApproval" {
		t.Errorf("ApprovalRequired after the planted status: %+v", c)
	}
	if err := k8sClient.Get(ctx, client.ObjectKey{Name: "stat-big"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("the namespace exists after a status write alone: %v", err)
	}
	// Grants are an approval's: writing them is deciding.
	grants := fmt.Sprintf(`{"status":{"approval":{"specHash":%q,"decision":"Approved","by":"gus@example.com","grants":{"specHash":%[1]q,"quota":{"requests.cpu":"48"}}}}}`, got.Status.PendingApproval.SpecHash)
	err := dev.Status().Patch(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "stat-big"}}, client.RawPatch(types.MergePatchType, []byte(grants)))
	if err == nil || !strings.Contains(err.Error(), "status.approval: only platform admins decide") {
		t.Errorf("gus writing himself grants: %v", err)
	}

	// Once it runs within its class, a planted provisionedSpec still buys nothing.
	Update(t, dev, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "stat-big"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Quota.Hard[corev1.ResourceRequestsCPU] = resource.MustParse("8")
	})
	waitReady(t, "stat-big")
	Update(t, dev, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "stat-big"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Quota.Hard[corev1.ResourceRequestsCPU] = resource.MustParse("48")
	})
	got = approvalOf(t, "stat-big", "AwaitingApproval")
	tamper = fmt.Sprintf(`{"status":{"provisionedSpec":%q}}`, got.Status.PendingApproval.SpecHash)
	Must(t, dev.Status().Patch(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "stat-big"}}, client.RawPatch(types.MergePatchType, []byte(tamper))))
	Eventually(t, 30*time.Second, "the controller clears the planted provisionedSpec again", func() bool {
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "stat-big"}, got))
		return got.Status.ProvisionedSpec == ""
	})
	var rq corev1.ResourceQuota
	Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "stat-big", Name: "selfserve-quota"}, &rq))
	if cpu := rq.Spec.Hard[corev1.ResourceRequestsCPU]; cpu.Cmp(resource.MustParse("8")) != 0 {
		t.Errorf("requests.cpu %s, want the class's 8 until an admin approves 48", cpu.String())
	}
}

// TestReleasedNamespaceStaysInsideTheGuardRails: eve binds herself admin in her namespace and
// deletes the tenant with Retain. The released namespace keeps her data and her binding, but
// admits no new pod, keeps ingress to itself, and keeps its place in the team's budget of one
// namespace; taking it back lifts the fence.
func TestReleasedNamespaceStaysInsideTheGuardRails(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed("rel")))
	team := Team("rel-eve", "rel")
	team.Spec.Budget = &platformv1alpha1.TeamBudget{MaxNamespaces: ptr.To[int32](1)}
	Must(t, k8sClient.Create(ctx, team))
	eve := user(t, "eve@example.com", "team-rel-eve")
	Eventually(t, 10*time.Second, "the cache holds the team", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "rel-eve"}, &platformv1alpha1.Team{}) == nil
	})
	Must(t, eve.Create(ctx, teamTenant("rel-data", "rel-eve")))
	waitReady(t, "rel-data")
	Eventually(t, 10*time.Second, "eve binds herself admin (RBAC has the owners' binding)", func() bool {
		return eve.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "eve-admin", Namespace: "rel-data"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "eve@example.com"}}}) == nil
	})
	Must(t, eve.Delete(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "rel-data"}}))
	var ns corev1.Namespace
	Eventually(t, 30*time.Second, "rel-data is released", func() bool {
		return k8sClient.Get(ctx, client.ObjectKey{Name: "rel-data"}, &ns) == nil && ns.Labels[tenancy.LabelReleased] == "true"
	})
	if uid := ns.Labels[tenancy.LabelTeamUID]; uid == "" || uid == tenancy.NoTeam {
		t.Errorf("the released namespace does not name its Team's UID: %v", ns.Labels)
	}
	var rq corev1.ResourceQuota
	Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "rel-data", Name: "selfserve-released"}, &rq))
	if pods := rq.Spec.Hard[corev1.ResourcePods]; !pods.IsZero() {
		t.Errorf("the released quota admits %s pods", pods.String())
	}
	var np networkingv1.NetworkPolicy
	Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "rel-data", Name: "selfserve-released"}, &np))

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "miner", Namespace: "rel-data"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "m", Image: "miner", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("900")}}}}}}
	err := eve.Create(ctx, pod)
	refusedWith(t, "eve running a pod in the released namespace", err, "selfserve-released")
	refusedWith(t, "eve deleting the fence", eve.Delete(ctx, &np), "managed by selfserve")

	// The released namespace holds the team's only place.
	refusedWith(t, "a second namespace while the first is released", eve.Create(ctx, teamTenant("rel-more", "rel-eve")),
		"would have 2 namespaces, more than its budget of 1", "rel-data")
	Eventually(t, 20*time.Second, "the Team counts the released namespace", func() bool {
		var tm platformv1alpha1.Team
		return k8sClient.Get(ctx, client.ObjectKey{Name: "rel-eve"}, &tm) == nil && tm.Status.Namespaces == 1
	})

	// Taken back by its team: the fence goes, the tenant's own quota is there.
	Must(t, eve.Create(ctx, teamTenant("rel-data", "rel-eve")))
	waitReady(t, "rel-data")
	Eventually(t, 20*time.Second, "the fence is gone", func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: "rel-data", Name: "selfserve-released"}, &corev1.ResourceQuota{})) &&
			apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: "rel-data", Name: "selfserve-released"}, &networkingv1.NetworkPolicy{}))
	})
}

// TestApprovalSurvivesASpecHashChange: an approval names the hash of one spec, and a CRD
// upgrade that adds a defaulted field changes every hash, as does any edit that leaves the
// approved values alone (here a label). The operator records what the approval grants by value
// (status.approval.grants), so the tenant stays approved; a tenant that lowers its quota and
// raises it again to what was approved needs no new approval, although its namespace no
// longer holds it.
func TestApprovalSurvivesASpecHashChange(t *testing.T) {
	ctx := context.Background()
	isolationTeams(t, "hash")
	dev := user(t, "hana@example.com", "team-hash-pay")
	sre := user(t, "sre@example.com", "system:masters")
	tn := teamTenant("hash-big", "hash-pay")
	tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("200")}}
	tn.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "admin", Subjects: []platformv1alpha1.Subject{{Kind: "Group", Name: "hash-leads"}}}}
	Must(t, dev.Create(ctx, tn))
	got := approvalOf(t, "hash-big", "AwaitingApproval")
	approved := got.Status.PendingApproval.SpecHash
	Must(t, decide(sre, "hash-big", approved, "Approved", "sre@example.com"))
	waitReady(t, "hash-big")
	Eventually(t, 30*time.Second, "the operator records the grants by value", func() bool {
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "hash-big"}, got))
		g := got.Status.Approval.Grants
		return g != nil && g.SpecHash == approved && g.Quota.Pods().Value() == 200 && slices.Equal(g.ClusterRoles, []string{"admin"})
	})

	warned := &warnings{}
	cfg, err := cp.UserConfig("hana@example.com", "team-hash-pay")
	Must(t, err)
	cfg.WarningHandler = warned
	devWarned, err := client.New(cfg, client.Options{Scheme: k8sClient.Scheme()})
	Must(t, err)
	stillApproved := func(what string, pods int64) {
		t.Helper()
		if w := warned.all(); strings.Contains(w, "approval") {
			t.Errorf("%s: admission warns that approved values need approval: %s", what, w)
		}
		Eventually(t, 30*time.Second, what+": Ready and still approved", func() bool {
			got := waitReady(t, "hash-big")
			c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.ConditionApprovalRequired)
			return got.Status.ObservedGeneration == got.Generation && c != nil && c.Reason == "Approved" && got.Status.PendingApproval == nil
		})
		Eventually(t, 30*time.Second, what+": the quota holds "+fmt.Sprint(pods)+" pods", func() bool {
			var rq corev1.ResourceQuota
			Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "hash-big", Name: "selfserve-quota"}, &rq))
			return rq.Spec.Hard.Pods().Value() == pods
		})
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "hash-big", Name: "selfserve-admin"}, &rbacv1.RoleBinding{}))
	}
	Update(t, devWarned, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "hash-big"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Labels = map[string]string{"example.com/cost-center": "42"}
	})
	stillApproved("relabelled (another hash)", 200)
	Update(t, devWarned, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "hash-big"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Quota.Hard[corev1.ResourcePods] = resource.MustParse("150")
	})
	stillApproved("lowered to 150 pods", 150)
	Update(t, devWarned, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "hash-big"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Quota.Hard[corev1.ResourcePods] = resource.MustParse("200")
	})
	stillApproved("raised back to the approved 200 pods", 200)

	// More than approved waits for the growth only: the approved 200 stay meanwhile.
	Update(t, dev, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "hash-big"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Quota.Hard[corev1.ResourcePods] = resource.MustParse("300")
	})
	got = approvalOf(t, "hash-big", "AwaitingApproval")
	if needs := strings.Join(got.Status.PendingApproval.Needs, "; "); !strings.Contains(needs, "spec.quota.hard[pods]") || strings.Contains(needs, "clusterRole") {
		t.Errorf("pending %q: want the pods only, the approved binding kept", needs)
	}
	var rq corev1.ResourceQuota
	Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "hash-big", Name: "selfserve-quota"}, &rq))
	if pods := rq.Spec.Hard.Pods().Value(); pods != 200 {
		t.Errorf("pods %d while 300 wait, want the approved 200", pods)
	}
}

// TestTeamOverBudgetCanShrink: the SREs lower a team's budget under what it holds. Its tenants
// may still lower their quotas (a decrease is never checked as an increase), and may not raise
// them again past the budget.
func TestTeamOverBudgetCanShrink(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed("shrink")))
	team := Team("shrink-pay", "shrink")
	team.Spec.Budget = &platformv1alpha1.TeamBudget{MaxQuota: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("16")}}
	Must(t, k8sClient.Create(ctx, team))
	alice := user(t, "alice@example.com", "team-shrink-pay")
	Eventually(t, 10*time.Second, "the cache holds the team", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "shrink-pay"}, &platformv1alpha1.Team{}) == nil
	})
	for _, name := range []string{"shrink-a", "shrink-b"} {
		tn := teamTenant(name, "shrink-pay")
		tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("8")}}
		Must(t, alice.Create(ctx, tn))
		waitReady(t, name)
	}
	Update(t, k8sClient, &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "shrink-pay"}}, func(tm *platformv1alpha1.Team) {
		tm.Spec.Budget.MaxQuota[corev1.ResourceRequestsCPU] = resource.MustParse("10")
	})
	Eventually(t, 10*time.Second, "the cache has the lowered budget", func() bool {
		var tm platformv1alpha1.Team
		if cached.Get(ctx, client.ObjectKey{Name: "shrink-pay"}, &tm) != nil {
			return false
		}
		cpu := tm.Spec.Budget.MaxQuota[corev1.ResourceRequestsCPU]
		return cpu.Cmp(resource.MustParse("10")) == 0
	})
	setCPU := func(cpu string) error {
		return alice.Patch(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "shrink-a"}},
			client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"quota":{"hard":{"requests.cpu":%q}}}}`, cpu)))
	}
	if err := setCPU("6"); err != nil {
		t.Fatalf("lowering a quota of a team over its budget: %v", err)
	}
	refusedWith(t, "raising it again past the budget", setCPU("7"), "spec.quota.hard[requests.cpu]", "over team shrink-pay's budget of 10")
}

// TestInsideTheNamespaceAdminsFollowTheSpecsRules: as admin of her namespace, alice may bind
// whom the spec could name — not everyone, not the cluster's own identities — and in a class
// that allows only Namespace isolation she may not open ingress to other namespaces. These are
// ValidatingAdmissionPolicies: kube-apiserver enforces them with no webhook (none is asked).
func TestInsideTheNamespaceAdminsFollowTheSpecsRules(t *testing.T) {
	ctx := context.Background()
	open := guardedClassNamed("vap-open")
	open.Spec.AllowedBroadSubjects = []string{"system:authenticated"}
	pci := guardedClassNamed("vap-pci")
	pci.Spec.NetworkIsolation = platformv1alpha1.ClassNetworkIsolation{Default: platformv1alpha1.NetworkIsolationNamespace}
	for _, c := range []*platformv1alpha1.TenantClass{guardedClassNamed("vap"), open, pci} {
		Must(t, k8sClient.Create(ctx, c))
	}
	Must(t, k8sClient.Create(ctx, Team("vap-pay", "vap", "vap-open", "vap-pci")))
	alice := user(t, "alice@example.com", "team-vap-pay")
	Eventually(t, 10*time.Second, "the cache holds the team and classes", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "vap-pay"}, &platformv1alpha1.Team{}) == nil &&
			cached.Get(ctx, client.ObjectKey{Name: "vap-pci"}, &platformv1alpha1.TenantClass{}) == nil
	})
	for name, class := range map[string]string{"vap-app": "vap", "vap-open": "vap-open", "vap-card": "vap-pci"} {
		tn := teamTenant(name, "vap-pay")
		tn.Spec.Class = class
		Must(t, alice.Create(ctx, tn))
		waitReady(t, name)
	}
	bind := func(ns, name string, s rbacv1.Subject) error {
		var err error
		// RBAC may not have the owners' binding yet; the policy answers once it has.
		Within(10*time.Second, func() bool {
			err = alice.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{s}})
			return err == nil || !apierrors.IsForbidden(err) || strings.Contains(err.Error(), "tenant namespace")
		})
		return err
	}
	group := func(name string) rbacv1.Subject {
		return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: "Group", Name: name}
	}
	for _, c := range []struct {
		name string
		sub  rbacv1.Subject
	}{
		{"everyone", group("system:authenticated")},
		{"anonymous", group("system:unauthenticated")},
		{"masters", group("system:masters")},
		{"kube-system", rbacv1.Subject{Kind: "ServiceAccount", Namespace: "kube-system", Name: "default"}},
		{"kube-system-all", group("system:serviceaccounts:kube-system")},
		// The operator's namespace is protected too (the operator writes the list on the namespace).
		{"operator", rbacv1.Subject{Kind: "ServiceAccount", Namespace: "selfserve-system", Name: "selfserve-controller-manager"}},
		{"operator-all", group("system:serviceaccounts:selfserve-system")},
	} {
		refusedWith(t, "alice binding "+c.sub.Name, bind("vap-app", "x-"+c.name, c.sub), "may not be bound in a tenant namespace", c.sub.Name)
	}
	Must(t, bind("vap-app", "readers", group("team-vap-readers")))
	Must(t, bind("vap-app", "own-workloads", group("system:serviceaccounts:vap-app")))
	// Where the class allows everyone, so does the policy, and nothing more.
	Must(t, bind("vap-open", "everyone", group("system:authenticated")))
	refusedWith(t, "alice binding the unauthenticated where only the authenticated are allowed", bind("vap-open", "anonymous", group("system:unauthenticated")), "system:unauthenticated")

	netpol := func(name string, rule networkingv1.NetworkPolicyIngressRule) error {
		var err error
		Within(10*time.Second, func() bool {
			err = alice.Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "vap-card"},
				Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, Ingress: []networkingv1.NetworkPolicyIngressRule{rule}}})
			return err == nil || !apierrors.IsForbidden(err) || strings.Contains(err.Error(), "ingress only from the namespace itself")
		})
		return err
	}
	refusedWith(t, "an allow-all ingress policy in a Namespace-isolated class", netpol("allow-all", networkingv1.NetworkPolicyIngressRule{}), "spec.ingress", "ingress only from the namespace itself")
	refusedWith(t, "ingress from every namespace", netpol("from-all-namespaces", networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}), "ingress only from the namespace itself")
	Must(t, netpol("from-web", networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}}))
	// Elsewhere the class allows Team isolation: no such rule.
	Eventually(t, 10*time.Second, "an allow-all ingress policy where the class allows more", func() bool {
		return alice.Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "allow-all", Namespace: "vap-app"},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, Ingress: []networkingv1.NetworkPolicyIngressRule{{}}}}) == nil
	})
}

// warnings records the warnings the apiserver returns (admission webhooks' among them).
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.seen, "\n")
}

// TestOwnersStayMembers: a Team of named users. alice names bob a co-owner; an owner who is not
// a member is refused at apply; the SREs take bob out of the Team, and he loses admin in the
// team's namespace (the owners' binding drops him and RBACReady says why) and may no longer
// change the tenant, while alice's unrelated edits still go through.
func TestOwnersStayMembers(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed("own")))
	team := Team("own-pay", "own")
	team.Spec.Members = []platformv1alpha1.Subject{{Kind: "User", Name: "alice@example.com"}, {Kind: "User", Name: "bob@example.com"}}
	Must(t, k8sClient.Create(ctx, team))
	alice := user(t, "alice@example.com")
	bob := user(t, "bob@example.com")
	Eventually(t, 10*time.Second, "the cache holds the team", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "own-pay"}, &platformv1alpha1.Team{}) == nil &&
			cached.Get(ctx, client.ObjectKey{Name: "own"}, &platformv1alpha1.TenantClass{}) == nil
	})

	tn := teamTenant("own-data", "own-pay")
	tn.Spec.Owners = []platformv1alpha1.Subject{{Kind: "User", Name: "alice@example.com"}, {Kind: "User", Name: "mallory@example.com"}}
	refusedWith(t, "an owner who is not a member", alice.Create(ctx, tn), "spec.owners[1]", "not a member of Team own-pay")
	tn.Spec.Owners = []platformv1alpha1.Subject{{Kind: "User", Name: "alice@example.com"}, {Kind: "User", Name: "bob@example.com"}}
	Must(t, alice.Create(ctx, tn))
	waitReady(t, "own-data")
	ownerNames := func() []string {
		var rb rbacv1.RoleBinding
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "own-data", Name: "selfserve-owners"}, &rb))
		var names []string
		for _, s := range rb.Subjects {
			names = append(names, s.Name)
		}
		return names
	}
	if got := ownerNames(); !slices.Equal(got, []string{"alice@example.com", "bob@example.com"}) {
		t.Fatalf("owners bound: %v", got)
	}

	Update(t, k8sClient, &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "own-pay"}}, func(tm *platformv1alpha1.Team) {
		tm.Spec.Members = tm.Spec.Members[:1]
	})
	Eventually(t, 30*time.Second, "bob's admin binding is gone", func() bool {
		return slices.Equal(ownerNames(), []string{"alice@example.com"})
	})
	// The binding is applied before the status says so.
	Eventually(t, 30*time.Second, "RBACReady says bob is no longer bound", func() bool {
		got := waitReady(t, "own-data")
		c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.ConditionRBACReady)
		return c != nil && strings.Contains(c.Message, "not members of Team own-pay: User bob@example.com")
	})
	Eventually(t, 10*time.Second, "the cache has the new members", func() bool {
		var tm platformv1alpha1.Team
		return cached.Get(ctx, client.ObjectKey{Name: "own-pay"}, &tm) == nil && len(tm.Spec.Members) == 1
	})
	err := Attempt(bob, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "own-data"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Labels = map[string]string{"example.com/owner": "bob"}
	})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "not a member of Team own-pay") {
		t.Errorf("bob, out of the team, changing its tenant: %v", err)
	}
	// bob is still listed among the owners: alice's unrelated change is not refused for it.
	Must(t, Attempt(alice, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "own-data"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Labels = map[string]string{"example.com/cost-center": "7"}
	}))
}
