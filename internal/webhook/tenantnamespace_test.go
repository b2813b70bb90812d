package webhook_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
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
	"github.com/selfserve-dev/selfserve/internal/operator"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// allowEveryoneToRequestTenants grants every authenticated user the right to request
// TenantNamespaces, as an SRE would with the shipped ClusterRole; the webhook then decides
// whose request stands.
func allowEveryoneToRequestTenants(ctx context.Context) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "selfserve-tenant-requester"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{platformv1alpha1.GroupVersion.Group}, Resources: []string{"tenantnamespaces"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}},
	}
	if err := k8sClient.Create(ctx, role); err != nil {
		return err
	}
	return k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "selfserve-tenant-requester"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "system:authenticated"}},
	})
}

// user returns a client authenticated as a developer.
func user(t *testing.T, name string, groups ...string) client.Client {
	t.Helper()
	cfg, err := cp.UserConfig(name, groups...)
	Must(t, err)
	c, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
	Must(t, err)
	return c
}

// createTeams declares the teams of the admission tests: payments (alice's group) with a budget
// of two namespaces and 9 CPUs, search (bob's), and edge.
func createTeams(ctx context.Context) error {
	payments := Team("payments", "guarded")
	payments.Spec.Budget = &platformv1alpha1.TeamBudget{MaxNamespaces: ptr.To[int32](2), MaxQuota: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("9")}}
	if err := k8sClient.Create(ctx, payments); err != nil {
		return err
	}
	if err := k8sClient.Create(ctx, Team("search", "guarded")); err != nil {
		return err
	}
	return k8sClient.Create(ctx, Team("edge", "infra"))
}

// guardedClass is the class every admission case runs against.
func guardedClass() *platformv1alpha1.TenantClass {
	return &platformv1alpha1.TenantClass{
		ObjectMeta: metav1.ObjectMeta{Name: "guarded"},
		Spec: platformv1alpha1.TenantClassSpec{
			Quota: platformv1alpha1.ClassQuota{
				Default: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceRequestsCPU: resource.MustParse("2")},
				Max:     corev1.ResourceList{corev1.ResourcePods: resource.MustParse("50"), corev1.ResourceRequestsCPU: resource.MustParse("8")},
			},
			AllowedClusterRoles:  []string{"view", "edit"},
			PodSecurity:          platformv1alpha1.ClassPodSecurity{Default: platformv1alpha1.PodSecurityBaseline, Minimum: platformv1alpha1.PodSecurityBaseline},
			NetworkIsolation:     platformv1alpha1.ClassNetworkIsolation{Default: platformv1alpha1.NetworkIsolationTeam, Allowed: []platformv1alpha1.NetworkIsolation{"Team", "Namespace"}},
			Limits:               &platformv1alpha1.ContainerLimits{Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi")}},
			AllowedLabelPrefixes: []string{"example.com/"},
			Monitoring: &platformv1alpha1.ClassMonitoring{Baseline: []platformv1alpha1.BaselineMonitor{
				{Name: "crash-loop", Template: platformv1alpha1.BaselineCrashLooping, Critical: "2"},
			}},
		},
	}
}

func paymentsTenant(name string) *platformv1alpha1.TenantNamespace {
	return &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.TenantNamespaceSpec{
			Team: "payments", Class: "guarded",
			Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-payments"}},
		},
	}
}

func TestTenantAdmission(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClass()))
	Eventually(t, 10*time.Second, "the cache holds the class", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "guarded"}, &platformv1alpha1.TenantClass{}) == nil
	})
	alice := user(t, "alice@example.com", "team-payments")
	bob := user(t, "bob@example.com", "team-search")

	// The accepted path: alice, through her group, gets a namespace.
	Must(t, alice.Create(ctx, paymentsTenant("wallet")))
	Eventually(t, 30*time.Second, "wallet is Ready", func() bool {
		var tn platformv1alpha1.TenantNamespace
		return k8sClient.Get(ctx, client.ObjectKey{Name: "wallet"}, &tn) == nil &&
			meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady)
	})
	Must(t, k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy-app"}}))
	// What a search tenant deleted with Retain leaves until the operator releases it.
	Must(t, k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "remnant", Labels: map[string]string{
		platformv1alpha1.LabelTenant: "remnant", platformv1alpha1.LabelTeam: "search", platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue,
	}}}))

	rejected := []struct {
		name   string
		as     client.Client
		tenant func() *platformv1alpha1.TenantNamespace
		// want are parts of the rejection: the field or rule and what is allowed.
		want []string
	}{
		{name: "claiming another team's tenant", as: bob, tenant: func() *platformv1alpha1.TenantNamespace { return paymentsTenant("stolen") },
			want: []string{"forbidden", "not a member of Team payments"}},
		{name: "another team's name with oneself as owner", as: bob, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("impostor")
			tn.Spec.Owners = []platformv1alpha1.Subject{{Kind: "User", Name: "bob@example.com"}}
			return tn
		}, want: []string{"forbidden", "spec.team", "you (bob@example.com, groups [team-search system:authenticated]) are not a member of Team payments"}},
		{name: "a team nobody declared", as: alice, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("rogue")
			tn.Spec.Team = "rogue"
			return tn
		}, want: []string{"forbidden", `Team "rogue" does not exist`}},
		{name: "a team nobody declared, even for an admin", as: k8sClient, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("rogue")
			tn.Spec.Team = "rogue"
			return tn
		}, want: []string{"spec.team", `Team "rogue" does not exist`}},
		{name: "a class the team may not use", as: alice, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("elsewhere")
			tn.Spec.Class = "infra"
			return tn
		}, want: []string{"spec.class", "team payments may not use class infra; its Team allows [guarded]"}},
		{name: "pod security below the class minimum", as: alice, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("privileged")
			tn.Spec.PodSecurity = platformv1alpha1.PodSecurityPrivileged
			return tn
		}, want: []string{"spec.podSecurity", "requires at least baseline"}},
		{name: "network isolation the class does not allow", as: alice, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("open")
			tn.Spec.NetworkIsolation = platformv1alpha1.NetworkIsolationNone
			return tn
		}, want: []string{"spec.networkIsolation", `supported values: "Team", "Namespace"`}},
		{name: "label prefix the class does not allow", as: alice, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("labelled")
			tn.Spec.Labels = map[string]string{"billing.io/team": "x"}
			return tn
		}, want: []string{"spec.labels[billing.io/team]", "allows only the prefixes [example.com/]"}},
		{name: "summed quota over the team budget", as: alice, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("big")
			tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("8")}}
			return tn
		}, want: []string{"spec.quota.hard[requests.cpu]", "with the team's other namespaces (2) sums to 10, over team payments's budget of 9"}},
		{name: "a baseline monitor threshold looser than the class's", as: alice, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("quiet")
			tn.Spec.Monitoring = &platformv1alpha1.TenantMonitoring{Thresholds: []platformv1alpha1.MonitorThreshold{{Name: "crash-loop", Critical: "5"}}}
			return tn
		}, want: []string{"spec.monitoring.thresholds[0].critical", "looser than class guarded's 2: a tenant may only tighten a baseline monitor"}},
		{name: "a threshold for a baseline monitor the class does not have", as: alice, tenant: func() *platformv1alpha1.TenantNamespace {
			tn := paymentsTenant("quiet")
			tn.Spec.Monitoring = &platformv1alpha1.TenantMonitoring{Thresholds: []platformv1alpha1.MonitorThreshold{{Name: "oom", Critical: "0"}}}
			return tn
		}, want: []string{"spec.monitoring.thresholds[0].name", "class guarded has no baseline monitor of this name"}},
		{name: "an existing unmanaged namespace", as: k8sClient, tenant: func() *platformv1alpha1.TenantNamespace { return paymentsTenant("legacy-app") },
			want: []string{"metadata.name", "already exists", "never adopts"}},
		{name: "another team's tenant's namespace, not released yet", as: alice, tenant: func() *platformv1alpha1.TenantNamespace { return paymentsTenant("remnant") },
			want: []string{"metadata.name", "already exists", "not a released namespace of team payments"}},
		{name: "the operator's namespace", as: k8sClient, tenant: func() *platformv1alpha1.TenantNamespace { return paymentsTenant("selfserve-system") },
			want: []string{"metadata.name", "protected"}},
		{name: "kube-system", as: k8sClient, tenant: func() *platformv1alpha1.TenantNamespace { return paymentsTenant("kube-system") },
			want: []string{"metadata.name", "protected"}},
		{name: "default", as: k8sClient, tenant: func() *platformv1alpha1.TenantNamespace { return paymentsTenant("default") },
			want: []string{"metadata.name", "protected"}},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			tn := tt.tenant()
			err := tt.as.Create(ctx, tn)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("rejection %q does not say %q", err, w)
				}
			}
			if tn.Name != "legacy-app" && tn.Name != "remnant" && tn.Name != "kube-system" && tn.Name != "default" && tn.Name != "selfserve-system" {
				if !apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: tn.Name}, &corev1.Namespace{})) {
					t.Errorf("namespace %s exists after the rejection", tn.Name)
				}
			}
			if !apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: tn.Name}, &platformv1alpha1.TenantNamespace{})) {
				t.Errorf("TenantNamespace %s exists after the rejection", tn.Name)
			}
		})
	}

	t.Run("a tenant tightens a baseline monitor and cannot loosen it past the class", func(t *testing.T) {
		var tn platformv1alpha1.TenantNamespace
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "wallet"}, &tn))
		tn.Spec.Monitoring = &platformv1alpha1.TenantMonitoring{Thresholds: []platformv1alpha1.MonitorThreshold{{Name: "crash-loop", Critical: "1"}}}
		Must(t, alice.Update(ctx, &tn))
		loosened := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"monitoring":{"thresholds":[{"name":"crash-loop","critical":"3"}]}}}`))
		if err := alice.Patch(ctx, &tn, loosened); err == nil || !strings.Contains(err.Error(), "spec.monitoring.thresholds[0].critical") {
			t.Errorf("loosening crash-loop to 3 past the class's 2: %v", err)
		}
	})

	t.Run("the same team taking back its tenant's namespace before the release", func(t *testing.T) {
		tn := &platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: "remnant"},
			Spec: platformv1alpha1.TenantNamespaceSpec{Team: "search", Class: "guarded",
				Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-search"}}},
		}
		Must(t, bob.Create(ctx, tn))
		Eventually(t, 30*time.Second, "remnant is Ready", func() bool {
			return k8sClient.Get(ctx, client.ObjectKey{Name: "remnant"}, tn) == nil &&
				meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady)
		})
	})

	t.Run("another team taking a released namespace", func(t *testing.T) {
		// What the payments team left behind with deletionPolicy Retain: its data.
		Must(t, k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "archive", Labels: map[string]string{
			platformv1alpha1.LabelTeam: "payments", "platform.selfserve.dev/released": "true",
		}}}))
		asSearch := &platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: "archive"},
			Spec: platformv1alpha1.TenantNamespaceSpec{Team: "search", Class: "guarded",
				Owners: []platformv1alpha1.Subject{{Kind: "User", Name: "bob@example.com"}}},
		}
		if err := bob.Create(ctx, asSearch); err == nil || !strings.Contains(err.Error(), "not a released namespace of team search") {
			t.Errorf("bob adopting payments' released namespace for search: %v", err)
		}
		asPayments := asSearch.DeepCopy()
		asPayments.Spec.Team = "payments"
		if err := bob.Create(ctx, asPayments); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "not a member of Team payments") {
			t.Errorf("bob adopting payments' released namespace as payments: %v", err)
		}
		var ns corev1.Namespace
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "archive"}, &ns))
		if ns.Labels[platformv1alpha1.LabelTenant] != "" || ns.Labels[platformv1alpha1.LabelTeam] != "payments" {
			t.Errorf("the released namespace changed hands: labels %v", ns.Labels)
		}
		// A released namespace holds a place in its team's budget until it is deleted (see
		// TestReleasedNamespaceStaysInsideTheGuardRails); the next case counts without it.
		Must(t, k8sClient.Delete(ctx, &ns))
	})

	t.Run("a third namespace for the team", func(t *testing.T) {
		Must(t, alice.Create(ctx, paymentsTenant("ledger")))
		err := alice.Create(ctx, paymentsTenant("third"))
		if err == nil || !strings.Contains(err.Error(), "spec.team") || !strings.Contains(err.Error(), "more than its budget of 2 (it has [ledger wallet])") {
			t.Errorf("third namespace of a team with a budget of 2: %v", err)
		}
	})

	t.Run("another team editing the tenant", func(t *testing.T) {
		tn := platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "wallet"}}
		err := Attempt(bob, &tn, func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Owners = append(tn.Spec.Owners, platformv1alpha1.Subject{Kind: "Group", Name: "team-search"})
		})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "not a member of Team payments") {
			t.Errorf("bob adding himself to wallet's owners: %v", err)
		}
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "wallet"}, &tn))
		if len(tn.Spec.Owners) != 1 {
			t.Errorf("owners changed to %v", tn.Spec.Owners)
		}
		if err := bob.Delete(ctx, &tn); !apierrors.IsForbidden(err) {
			t.Errorf("bob deleting wallet: %v", err)
		}
	})

	t.Run("another team editing the tenant while it is being deleted", func(t *testing.T) {
		// A finalizer of the test's holds ledger in deletion, as a slow namespace deletion would.
		tn := platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "ledger"}}
		Update(t, k8sClient, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "ledger"}}, func(tn *platformv1alpha1.TenantNamespace) {
			tn.Finalizers = append(tn.Finalizers, "test.selfserve.dev/hold")
		})
		Must(t, alice.Delete(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "ledger"}}))
		err := Attempt(bob, &tn, func(tn *platformv1alpha1.TenantNamespace) {
			if tn.DeletionTimestamp.IsZero() {
				t.Fatal("ledger is not being deleted")
			}
			tn.Spec.DeletionPolicy = platformv1alpha1.DeletionPolicyDelete
			tn.Spec.Owners = []platformv1alpha1.Subject{{Kind: "User", Name: "bob@example.com"}}
		})
		if !apierrors.IsForbidden(err) {
			t.Errorf("bob switching a terminating tenant of payments to Delete: %v", err)
		}
		Update(t, k8sClient, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "ledger"}}, func(tn *platformv1alpha1.TenantNamespace) {
			if tn.Spec.DeletionPolicy != platformv1alpha1.DeletionPolicyRetain {
				t.Errorf("deletionPolicy changed to %s", tn.Spec.DeletionPolicy)
			}
			tn.Finalizers = slices.DeleteFunc(tn.Finalizers, func(f string) bool { return f == "test.selfserve.dev/hold" })
		})
	})

	t.Run("the owner deleting the isolation policy or editing the quota", func(t *testing.T) {
		var policy networkingv1.NetworkPolicy
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "wallet", Name: "selfserve-isolation"}, &policy))
		err := alice.Delete(ctx, &policy)
		if err == nil || !strings.Contains(err.Error(), "managed by selfserve for TenantNamespace wallet") {
			t.Errorf("alice deleting her isolation policy: %v", err)
		}
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "wallet", Name: "selfserve-isolation"}, &policy))
		if !policy.DeletionTimestamp.IsZero() {
			t.Error("the policy is being deleted")
		}

		quota := corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "wallet", Name: "selfserve-quota"}}
		// The admin role already withholds quota writes; either refusal will do.
		if err := Attempt(alice, &quota, func(q *corev1.ResourceQuota) { q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("9999") }); err == nil {
			t.Error("alice raised her own quota")
		}
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "wallet", Name: "selfserve-quota"}, &quota))
		if quota.Spec.Hard.Pods().Cmp(resource.MustParse("10")) != 0 {
			t.Errorf("quota pods = %s, want 10", quota.Spec.Hard.Pods())
		}
		// The admin role lets her manage RoleBindings; not the operator's.
		owners := rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "wallet", Name: "selfserve-owners"}}
		err = Attempt(alice, &owners, func(rb *rbacv1.RoleBinding) {
			rb.Subjects = append(rb.Subjects, rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: "User", Name: "mallory@example.com"})
		})
		if err == nil || !strings.Contains(err.Error(), "cannot be changed by alice@example.com") {
			t.Errorf("alice adding an owner behind the operator's back: %v", err)
		}
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "wallet", Name: "selfserve-owners"}, &owners))
		if len(owners.Subjects) != 1 {
			t.Errorf("owners binding subjects changed to %v", owners.Subjects)
		}
		// Her own objects in the namespace are hers to manage.
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "wallet"}}
		Must(t, alice.Create(ctx, cm))
		Must(t, alice.Delete(ctx, cm))
	})

}

// TestBudgetHoldsUnderParallelCreates races ten creates for the last place of a team's budget,
// twenty times: admission reads a cache and may let more than one through, but never more
// namespaces than the budget exist, and the tenants that lost wait (Stalled, OverBudget).
func TestBudgetHoldsUnderParallelCreates(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed("race")))
	for round := range 20 {
		team := Team(fmt.Sprintf("race-%d", round), "race")
		team.Spec.Budget = &platformv1alpha1.TeamBudget{MaxNamespaces: ptr.To[int32](2)}
		Must(t, k8sClient.Create(ctx, team))
		member := user(t, fmt.Sprintf("dev-%d@example.com", round), "team-"+team.Name)
		tenant := func(i int) *platformv1alpha1.TenantNamespace {
			return &platformv1alpha1.TenantNamespace{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", team.Name, i)},
				Spec: platformv1alpha1.TenantNamespaceSpec{Team: team.Name, Class: "race",
					Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-" + team.Name}}},
			}
		}
		Eventually(t, 10*time.Second, "the first tenant of "+team.Name+" is admitted", func() bool {
			return member.Create(ctx, tenant(0)) == nil
		})
		var admitted atomic.Int32
		_ = Parallel(10, 10, func(i int) error {
			if member.Create(ctx, tenant(i+1)) == nil {
				admitted.Add(1)
			}
			return nil
		})
		// Every admitted tenant settles: Ready, or waiting for a place.
		Eventually(t, 30*time.Second, "the tenants of "+team.Name+" settle", func() bool {
			var list platformv1alpha1.TenantNamespaceList
			Must(t, k8sClient.List(ctx, &list))
			settled := 0
			for _, tn := range list.Items {
				ready := meta.FindStatusCondition(tn.Status.Conditions, platformv1alpha1.ConditionReady)
				if tn.Spec.Team == team.Name && ready != nil && (ready.Status == metav1.ConditionTrue || ready.Reason == "OverBudget") {
					settled++
				}
			}
			return settled == int(admitted.Load())+1
		})
		var namespaces corev1.NamespaceList
		Must(t, k8sClient.List(ctx, &namespaces, client.MatchingLabels{platformv1alpha1.LabelTeam: team.Name}))
		t.Logf("round %d: %d of 10 parallel creates admitted, %d namespaces", round, admitted.Load(), len(namespaces.Items))
		if len(namespaces.Items) > 2 {
			t.Errorf("round %d: %d parallel creates admitted, %d namespaces for a budget of 2", round, admitted.Load(), len(namespaces.Items))
		}
	}
}

// guardedClassNamed is the guarded class under another name.
func guardedClassNamed(name string) *platformv1alpha1.TenantClass {
	c := guardedClass()
	c.Name = name
	return c
}
