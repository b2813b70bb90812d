package tenancy

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestWhatAnAdminMayApprove(t *testing.T) {
	q := resource.MustParse
	class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: platformv1alpha1.TenantClassSpec{
		Quota:               platformv1alpha1.ClassQuota{Max: corev1.ResourceList{corev1.ResourcePods: q("50")}},
		Limits:              &platformv1alpha1.ContainerLimits{Max: corev1.ResourceList{corev1.ResourceMemory: q("8Gi")}, Min: corev1.ResourceList{corev1.ResourceMemory: q("64Mi")}},
		AllowedClusterRoles: []string{"view"},
		PodSecurity:         platformv1alpha1.ClassPodSecurity{Minimum: platformv1alpha1.PodSecurityBaseline},
	}}
	tn := &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "t"}, Spec: platformv1alpha1.TenantNamespaceSpec{
		Quota:        &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: q("500")}},
		Limits:       &platformv1alpha1.ContainerLimits{Max: corev1.ResourceList{corev1.ResourceMemory: q("32Gi")}, Default: corev1.ResourceList{corev1.ResourceMemory: q("16Gi")}},
		RoleBindings: []platformv1alpha1.TenantRoleBinding{{ClusterRole: "edit"}, {ClusterRole: "cluster-admin"}},
		PodSecurity:  platformv1alpha1.PodSecurityPrivileged,
	}}
	approvable, refused := SplitApprovable(CheckClass(tn, class))
	var a, r []string
	for _, e := range approvable {
		a = append(a, e.Field)
	}
	for _, e := range refused {
		r = append(r, e.Field)
	}
	if len(a) != 3 || a[0] != "spec.quota.hard[pods]" || a[1] != "spec.limits.max[memory]" || a[2] != "spec.roleBindings[0].clusterRole" {
		t.Errorf("approvable %v", a)
	}
	if len(r) != 2 || r[0] != "spec.podSecurity" || r[1] != "spec.roleBindings[1].clusterRole" {
		t.Errorf("refused %v: Pod Security and cluster-admin are no one's to approve", r)
	}

	// Meanwhile: the quota at the class maximum, the container limits within the class's, and
	// the default kept under the maximum so the LimitRange stays valid.
	capped := CappedToClass(Effective(tn, class), class, Holding{})
	if pods := capped.Quota[corev1.ResourcePods]; pods.Cmp(q("50")) != 0 {
		t.Errorf("capped pods %s, want 50", pods.String())
	}
	if m := capped.Limits.Max[corev1.ResourceMemory]; m.Cmp(q("8Gi")) != 0 {
		t.Errorf("capped container max %s, want 8Gi", m.String())
	}
	if d := capped.Limits.Default[corev1.ResourceMemory]; d.Cmp(q("8Gi")) != 0 {
		t.Errorf("capped container default %s, want 8Gi (under the max)", d.String())
	}

	// What the namespace holds already is kept, up to what the spec asks, and only the rest
	// waits: 120 pods held (approved earlier) of the 500 asked, the 32Gi container max held.
	held := Holding{Quota: corev1.ResourceList{corev1.ResourcePods: q("120")}, LimitsMax: corev1.ResourceList{corev1.ResourceMemory: q("32Gi")}, ClusterRoles: []string{"edit"}}
	capped = CappedToClass(Effective(tn, class), class, held)
	if pods := capped.Quota[corev1.ResourcePods]; pods.Cmp(q("120")) != 0 {
		t.Errorf("capped pods %s, want the 120 held", pods.String())
	}
	if m := capped.Limits.Max[corev1.ResourceMemory]; m.Cmp(q("32Gi")) != 0 {
		t.Errorf("capped container max %s, want the 32Gi held", m.String())
	}
	var waiting []string
	unheld, _ := SplitHeld(approvable, held)
	for _, e := range unheld {
		waiting = append(waiting, e.Field)
	}
	if len(waiting) != 1 || waiting[0] != "spec.quota.hard[pods]" {
		t.Errorf("waiting for approval %v, want only the pods beyond the 120 held", waiting)
	}
	// Held beyond what is asked: nothing more is given.
	held.Quota[corev1.ResourcePods] = q("900")
	if pods := CappedToClass(Effective(tn, class), class, held).Quota[corev1.ResourcePods]; pods.Cmp(q("500")) != 0 {
		t.Errorf("capped pods %s with 900 held, want the 500 asked", pods.String())
	}
	if unheld, _ := SplitHeld(approvable, held); len(unheld) != 0 {
		t.Errorf("a spec within what is held waits for approval")
	}

	// An approval holds for one spec: any change is another hash.
	h := SpecHash(tn)
	tn.Status.Approval = &platformv1alpha1.Approval{SpecHash: h, Decision: platformv1alpha1.DecisionApproved, By: "sre"}
	if DecisionOn(tn, SpecHash(tn)) != platformv1alpha1.DecisionApproved {
		t.Error("the approval of this very spec does not hold")
	}
	tn.Spec.Quota.Hard[corev1.ResourcePods] = q("501")
	if DecisionOn(tn, SpecHash(tn)) == platformv1alpha1.DecisionApproved || SpecHash(tn) == h || len(h) != 32 {
		t.Error("an approval holds for a changed spec")
	}
}

// TestApprovalGrantsValuesNotASpec: an approval's grants record the values approved; a spec
// asking for no more (another hash) needs nothing new, a spec asking for more waits for the
// growth only, and the namespace is read only when the grants do not cover everything.
func TestApprovalGrantsValuesNotASpec(t *testing.T) {
	ctx := context.Background()
	q := resource.MustParse
	class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: platformv1alpha1.TenantClassSpec{
		Quota:  platformv1alpha1.ClassQuota{Max: corev1.ResourceList{corev1.ResourcePods: q("50"), corev1.ResourceRequestsCPU: q("8")}},
		Limits: &platformv1alpha1.ContainerLimits{Max: corev1.ResourceList{corev1.ResourceMemory: q("8Gi")}},
	}}
	tn := &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "t"}, Spec: platformv1alpha1.TenantNamespaceSpec{
		Quota:        &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: q("200"), corev1.ResourceRequestsCPU: q("4")}},
		Limits:       &platformv1alpha1.ContainerLimits{Max: corev1.ResourceList{corev1.ResourceMemory: q("16Gi")}},
		RoleBindings: []platformv1alpha1.TenantRoleBinding{{ClusterRole: "edit"}},
	}}
	approvable, _ := SplitApprovable(CheckClass(tn, class))
	hash := SpecHash(tn)
	g := GrantsFor(approvable, hash)
	if g.SpecHash != hash || len(g.Quota) != 1 || g.Quota.Pods().Cmp(q("200")) != 0 || g.LimitsMax.Memory().Cmp(q("16Gi")) != 0 || !slices.Equal(g.ClusterRoles, []string{"edit"}) {
		t.Fatalf("grants %+v: want pods 200, container memory 16Gi, edit, nothing within the class", g)
	}
	tn.Status.Approval = &platformv1alpha1.Approval{SpecHash: hash, Decision: platformv1alpha1.DecisionApproved, By: "sre", Grants: g}

	noRead := func(context.Context) (Holding, error) {
		t.Error("the namespace was read although the grants cover the spec")
		return Holding{}, nil
	}
	// Fewer pods, a label: another hash, the same grants.
	tn.Spec.Quota.Hard[corev1.ResourcePods] = q("150")
	tn.Spec.Labels = map[string]string{"example.com/x": "y"}
	approvable, _ = SplitApprovable(CheckClass(tn, class))
	waiting, granted, held, _, err := Kept(ctx, tn, approvable, noRead)
	if err != nil || len(waiting) != 0 || len(granted) != 3 || len(held) != 0 {
		t.Errorf("a spec within the grants: waiting %v, granted %v, held %v, %v", waiting, granted, held, err)
	}

	// More pods than granted: that waits; the namespace holds 220 pods (approved before): held.
	tn.Spec.Quota.Hard[corev1.ResourcePods] = q("300")
	approvable, _ = SplitApprovable(CheckClass(tn, class))
	waiting, granted, _, kept, err := Kept(ctx, tn, approvable, func(context.Context) (Holding, error) {
		return Holding{Quota: corev1.ResourceList{corev1.ResourcePods: q("220")}}, nil
	})
	if err != nil || len(waiting) != 1 || waiting[0].Field != "spec.quota.hard[pods]" || len(granted) != 2 {
		t.Errorf("growth beyond the grants: waiting %v, granted %v, %v", waiting, granted, err)
	}
	capped := CappedToClass(Effective(tn, class), class, kept)
	if pods := capped.Quota[corev1.ResourcePods]; pods.Cmp(q("220")) != 0 {
		t.Errorf("while 300 pods wait the tenant has %s, want the 220 its namespace holds (more than the 200 granted)", pods.String())
	}
	if m := capped.Limits.Max[corev1.ResourceMemory]; m.Cmp(q("16Gi")) != 0 {
		t.Errorf("while pods wait the container max is %s, want the granted 16Gi", m.String())
	}
}

func TestHoldingWith(t *testing.T) {
	q := resource.MustParse
	a := Holding{Quota: corev1.ResourceList{corev1.ResourcePods: q("10")}, LimitsMin: corev1.ResourceList{corev1.ResourceMemory: q("64Mi")}, ClusterRoles: []string{"edit"}}
	b := Holding{Quota: corev1.ResourceList{corev1.ResourcePods: q("20"), corev1.ResourceRequestsCPU: q("2")}, LimitsMin: corev1.ResourceList{corev1.ResourceMemory: q("32Mi")}, ClusterRoles: []string{"edit", "view"}}
	w := a.With(b)
	if w.Quota.Pods().Cmp(q("20")) != 0 || w.Quota.Name(corev1.ResourceRequestsCPU, resource.DecimalSI).Cmp(q("2")) != 0 || w.LimitsMin.Memory().Cmp(q("32Mi")) != 0 || !slices.Equal(w.ClusterRoles, []string{"edit", "view"}) {
		t.Errorf("a.With(b) = %+v: want the larger quota, the smaller minimum, both roles", w)
	}
	if a.Quota.Pods().Cmp(q("10")) != 0 {
		t.Error("With changed its receiver")
	}
}
