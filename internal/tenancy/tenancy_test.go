package tenancy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

func q(s string) resource.Quantity { return resource.MustParse(s) }

func class() *platformv1alpha1.TenantClass {
	return &platformv1alpha1.TenantClass{
		ObjectMeta: metav1.ObjectMeta{Name: "standard"},
		Spec: platformv1alpha1.TenantClassSpec{
			IsDefault: true,
			Quota: platformv1alpha1.ClassQuota{
				Default: corev1.ResourceList{corev1.ResourcePods: q("20"), corev1.ResourceRequestsCPU: q("2")},
				Max:     corev1.ResourceList{corev1.ResourcePods: q("100"), corev1.ResourceRequestsCPU: q("32"), corev1.ResourceRequestsMemory: q("64Gi")},
			},
			Limits: &platformv1alpha1.ContainerLimits{
				Default: corev1.ResourceList{corev1.ResourceMemory: q("512Mi")},
				Max:     corev1.ResourceList{corev1.ResourceMemory: q("8Gi"), corev1.ResourceCPU: q("4")},
				Min:     corev1.ResourceList{corev1.ResourceMemory: q("16Mi")},
			},
			AllowedClusterRoles: []string{"view"},
			PodSecurity:         platformv1alpha1.ClassPodSecurity{Default: "baseline", Minimum: "baseline"},
			NetworkIsolation:    platformv1alpha1.ClassNetworkIsolation{Default: "Team"},
		},
	}
}

func tenant(mod func(*platformv1alpha1.TenantNamespace)) *platformv1alpha1.TenantNamespace {
	t := &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout"},
		Spec:       platformv1alpha1.TenantNamespaceSpec{Team: "payments", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-payments"}}},
	}
	if mod != nil {
		mod(t)
	}
	return t
}

// TestEffectiveQuotaAlwaysHoldsWhatTheClassCaps: a tenant that names only pods still gets the
// class's cpu default and its memory cap; what it names wins.
func TestEffectiveQuotaAlwaysHoldsWhatTheClassCaps(t *testing.T) {
	cases := []struct {
		name   string
		tenant *platformv1alpha1.TenantNamespace
		want   corev1.ResourceList
	}{
		{name: "no quota: the default, and the cap where there is no default", tenant: tenant(nil),
			want: corev1.ResourceList{corev1.ResourcePods: q("20"), corev1.ResourceRequestsCPU: q("2"), corev1.ResourceRequestsMemory: q("64Gi")}},
		{name: "only pods named: cpu and memory are not left out", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: q("10")}}
		}), want: corev1.ResourceList{corev1.ResourcePods: q("10"), corev1.ResourceRequestsCPU: q("2"), corev1.ResourceRequestsMemory: q("64Gi")}},
		{name: "an uncapped resource is added", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceServices: q("5"), corev1.ResourceRequestsMemory: q("8Gi")}}
		}), want: corev1.ResourceList{corev1.ResourcePods: q("20"), corev1.ResourceRequestsCPU: q("2"), corev1.ResourceRequestsMemory: q("8Gi"), corev1.ResourceServices: q("5")}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tenancy.EffectiveQuota(tt.tenant, class())); diff != "" {
				t.Errorf("quota (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEffectiveLimitsLayTheTenantsOverTheClass(t *testing.T) {
	got := tenancy.Effective(tenant(func(t *platformv1alpha1.TenantNamespace) {
		t.Spec.Limits = &platformv1alpha1.ContainerLimits{Max: corev1.ResourceList{corev1.ResourceMemory: q("2Gi")}}
	}), class()).Limits
	want := &platformv1alpha1.ContainerLimits{
		Default: corev1.ResourceList{corev1.ResourceMemory: q("512Mi")},
		Max:     corev1.ResourceList{corev1.ResourceMemory: q("2Gi"), corev1.ResourceCPU: q("4")},
		Min:     corev1.ResourceList{corev1.ResourceMemory: q("16Mi")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
}

func TestCheckClass(t *testing.T) {
	cases := []struct {
		name   string
		tenant *platformv1alpha1.TenantNamespace
		class  func(*platformv1alpha1.TenantClass)
		// want are the field paths refused, in order.
		want []string
	}{
		{name: "nothing asked: within", tenant: tenant(nil)},
		{name: "quota over the maximum", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: q("500")}}
		}), want: []string{"spec.quota.hard[pods]"}},
		{name: "a default above a tightened maximum", tenant: tenant(nil), class: func(c *platformv1alpha1.TenantClass) {
			c.Spec.Quota.Max[corev1.ResourcePods] = q("10")
		}, want: []string{"spec.quota.hard[pods]"}},
		{name: "container maximum over the class's", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.Limits = &platformv1alpha1.ContainerLimits{Max: corev1.ResourceList{corev1.ResourceMemory: q("1Ti"), corev1.ResourceCPU: q("500")}}
		}), want: []string{"spec.limits.max[cpu]", "spec.limits.max[memory]"}},
		{name: "container minimum under the class's", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.Limits = &platformv1alpha1.ContainerLimits{Min: corev1.ResourceList{corev1.ResourceMemory: q("1Mi")}}
		}), want: []string{"spec.limits.min[memory]"}},
		{name: "pod security below the minimum", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) { t.Spec.PodSecurity = "privileged" }),
			want: []string{"spec.podSecurity"}},
		{name: "an empty allowed list allows only the default isolation", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) { t.Spec.NetworkIsolation = "None" }),
			want: []string{"spec.networkIsolation"}},
		{name: "the default isolation is allowed", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) { t.Spec.NetworkIsolation = "Team" })},
		{name: "a role the class does not list", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "cluster-admin", Subjects: t.Spec.Owners}}
		}), want: []string{"spec.roleBindings[0].clusterRole"}},
		{name: "every authenticated user as an owner", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.Owners = append(t.Spec.Owners, platformv1alpha1.Subject{Kind: "Group", Name: "system:authenticated"})
		}), want: []string{"spec.owners[1]"}},
		{name: "the anonymous user bound to a role", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "view", Subjects: []platformv1alpha1.Subject{{Kind: "User", Name: "system:anonymous"}}}}
		}), want: []string{"spec.roleBindings[0].subjects[0]"}},
		{name: "a broad subject the class allows", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "view", Subjects: []platformv1alpha1.Subject{{Kind: "Group", Name: "system:authenticated"}}}}
		}), class: func(c *platformv1alpha1.TenantClass) { c.Spec.AllowedBroadSubjects = []string{"system:authenticated"} }},
		{name: "a user named like the group is not the group", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) {
			t.Spec.Owners = append(t.Spec.Owners, platformv1alpha1.Subject{Kind: "User", Name: "system:authenticated"})
		})},
		{name: "no label prefix allowed means none", tenant: tenant(func(t *platformv1alpha1.TenantNamespace) { t.Spec.Labels = map[string]string{"a.io/x": "y"} }),
			want: []string{"spec.labels[a.io/x]"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := class()
			if tt.class != nil {
				tt.class(c)
			}
			var got []string
			for _, e := range tenancy.CheckClass(tt.tenant, c) {
				got = append(got, e.Field)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("refused fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckBudgetCountsWhatTheQuotasHold(t *testing.T) {
	team := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "payments"}, Spec: platformv1alpha1.TeamSpec{
		Budget: &platformv1alpha1.TeamBudget{MaxNamespaces: ptr.To[int32](2), MaxQuota: corev1.ResourceList{corev1.ResourceRequestsCPU: q("4")}},
	}}
	var held tenancy.Held
	held.Add("wallet", corev1.ResourceList{corev1.ResourceRequestsCPU: q("2")})
	if errs := tenancy.CheckBudget(team, held, corev1.ResourceList{corev1.ResourceRequestsCPU: q("2")}); len(errs) != 0 {
		t.Errorf("the second namespace at exactly the budget: %v", errs)
	}
	errs := tenancy.CheckBudget(team, held, corev1.ResourceList{corev1.ResourceRequestsCPU: q("3")})
	if len(errs) != 1 || errs[0].Field != "spec.quota.hard[requests.cpu]" || !strings.Contains(errs[0].Detail, "sums to 5, over team payments's budget of 4") {
		t.Errorf("2 + 3 CPUs against 4: %v", errs)
	}
	held.Add("ledger", nil)
	errs = tenancy.CheckBudget(team, held, nil)
	if len(errs) != 1 || errs[0].Field != "spec.team" || !strings.Contains(errs[0].Detail, "more than its budget of 2 (it has [ledger wallet])") {
		t.Errorf("a third namespace: %v", errs)
	}
	left := tenancy.Left(team, held)
	if cpu := left.Quota[corev1.ResourceRequestsCPU]; *left.Namespaces != 0 || cpu.String() != "2" {
		t.Errorf("budget left %+v, want 0 namespaces and 2 CPUs", left)
	}
	if over := tenancy.Exceeded(team, held); len(over) != 0 {
		t.Errorf("at the budget is not over it: %v", over)
	}
}

func TestMembership(t *testing.T) {
	members := []platformv1alpha1.Subject{
		{Kind: "Group", Name: "team-payments"}, {Kind: "User", Name: "alice@example.com"},
		{Kind: "ServiceAccount", Namespace: "argocd", Name: "payments-deployer"},
	}
	cases := []struct {
		user authnv1.UserInfo
		want bool
	}{
		{authnv1.UserInfo{Username: "bob@example.com", Groups: []string{"team-payments"}}, true},
		{authnv1.UserInfo{Username: "alice@example.com"}, true},
		{authnv1.UserInfo{Username: "system:serviceaccount:argocd:payments-deployer"}, true},
		{authnv1.UserInfo{Username: "system:serviceaccount:other:payments-deployer"}, false},
		{authnv1.UserInfo{Username: "mallory@example.com", Groups: []string{"team-orders", "system:authenticated"}}, false},
		// A user named like a group is not in it.
		{authnv1.UserInfo{Username: "team-payments"}, false},
	}
	for _, tt := range cases {
		if got := tenancy.Matches(members, tt.user); got != tt.want {
			t.Errorf("%+v: member %v, want %v", tt.user, got, tt.want)
		}
	}
}

func TestResolveRefusesWhatTheTeamMayNotUse(t *testing.T) {
	ctx := context.Background()
	team := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "payments"}, Spec: platformv1alpha1.TeamSpec{Classes: []string{"pci"}}}
	second := class()
	second.Name = "standard-2"
	cases := []struct {
		name       string
		objects    []client.Object
		tenant     *platformv1alpha1.TenantNamespace
		wantReason string
	}{
		{name: "no Team", objects: []client.Object{class()}, tenant: tenant(nil), wantReason: tenancy.ReasonTeamNotFound},
		{name: "the default class, not listed", objects: []client.Object{class(), team}, tenant: tenant(nil), wantReason: tenancy.ReasonClassNotAllowed},
		{name: "a named class, not listed, that does not exist", objects: []client.Object{team}, tenant: tenant(func(t *platformv1alpha1.TenantNamespace) { t.Spec.Class = "gold" }),
			wantReason: tenancy.ReasonClassNotAllowed},
		{name: "a listed class that does not exist", objects: []client.Object{team}, tenant: tenant(func(t *platformv1alpha1.TenantNamespace) { t.Spec.Class = "pci" }),
			wantReason: tenancy.ReasonClassNotFound},
		{name: "two defaults", objects: []client.Object{team, class(), second}, tenant: tenant(nil), wantReason: tenancy.ReasonClassNotFound},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(operator.Scheme()).WithObjects(tt.objects...).Build()
			_, _, err := tenancy.Resolve(ctx, c, tt.tenant)
			var refusal *tenancy.Refusal
			if !errors.As(err, &refusal) || refusal.Reason != tt.wantReason {
				t.Fatalf("got %v, want a refusal %s", err, tt.wantReason)
			}
		})
	}
}

func TestOwnerIsMember(t *testing.T) {
	users := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "u"}, Spec: platformv1alpha1.TeamSpec{Members: []platformv1alpha1.Subject{
		{Kind: "User", Name: "alice"}, {Kind: "ServiceAccount", Namespace: "ci", Name: "deployer"}, {Kind: "Group", Name: "system:authenticated"}}}}
	groups := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "g"}, Spec: platformv1alpha1.TeamSpec{Members: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-g"}}}}
	for _, c := range []struct {
		team  *platformv1alpha1.Team
		owner platformv1alpha1.Subject
		want  bool
	}{
		{users, platformv1alpha1.Subject{Kind: "User", Name: "alice"}, true},
		{users, platformv1alpha1.Subject{Kind: "User", Name: "bob"}, false}, // a system: group does not make everyone a member
		{users, platformv1alpha1.Subject{Kind: "ServiceAccount", Namespace: "ci", Name: "deployer"}, true},
		{users, platformv1alpha1.Subject{Kind: "ServiceAccount", Namespace: "other", Name: "deployer"}, false},
		{users, platformv1alpha1.Subject{Kind: "Group", Name: "team-u"}, false},
		{groups, platformv1alpha1.Subject{Kind: "Group", Name: "team-g"}, true},
		{groups, platformv1alpha1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "team-g"}, true},
		{groups, platformv1alpha1.Subject{Kind: "Group", Name: "team-g-leads"}, false},
		{groups, platformv1alpha1.Subject{Kind: "User", Name: "carol"}, true}, // may be in team-g: the identity provider knows
		{nil, platformv1alpha1.Subject{Kind: "User", Name: "alice"}, false},
	} {
		if got := tenancy.OwnerIsMember(c.team, c.owner); got != c.want {
			t.Errorf("OwnerIsMember(%v, %+v) = %v, want %v", c.team != nil, c.owner, got, c.want)
		}
	}
	tn := &platformv1alpha1.TenantNamespace{Spec: platformv1alpha1.TenantNamespaceSpec{Owners: []platformv1alpha1.Subject{{Kind: "User", Name: "alice"}, {Kind: "User", Name: "bob"}}}}
	if errs := tenancy.CheckOwnersAreMembers(users, tn, nil); len(errs) != 1 || errs[0].Field != "spec.owners[1]" {
		t.Errorf("a new owner who is not a member: %v", errs)
	}
	if errs := tenancy.CheckOwnersAreMembers(users, tn, tn.Spec.Owners); len(errs) != 0 {
		t.Errorf("an owner who left the team since, on an unrelated change: %v", errs)
	}
}

// TestOtherNamespacesTakeOnePlaceEach: a namespace the team released, or a managed one whose
// tenant is gone, takes one place and no quota, once however many lists name it; one a counted
// tenant holds, and the one a tenant is about to take back, take none.
func TestOtherNamespacesTakeOnePlaceEach(t *testing.T) {
	var h tenancy.Held
	h.Add("checkout", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")})
	h.AddOthers([]string{"old-data", "checkout", "old-data", "orphan", "coming-back"}, "coming-back")
	if want := []string{"checkout", "old-data", "orphan"}; !slices.Equal(h.Tenants, want) {
		t.Errorf("held %v, want %v", h.Tenants, want)
	}
	if cpu := h.Quota[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("4")) != 0 {
		t.Errorf("quota %s, want only checkout's 4 CPUs", cpu.String())
	}
}
