package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// decide sets status.approval as an admin does: kubectl patch --subresource=status.
func decide(c client.Client, name, hash, decision, by string) error {
	return c.Status().Patch(context.Background(), &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: name}},
		client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"status":{"approval":{"specHash":%q,"decision":%q,"by":%q,"reason":"capacity planned"}}}`, hash, decision, by)))
}

// approvalOf waits for the tenant's ApprovalRequired reason and returns the tenant.
func approvalOf(t *testing.T, name, reason string) *platformv1alpha1.TenantNamespace {
	t.Helper()
	var tn platformv1alpha1.TenantNamespace
	Eventually(t, 30*time.Second, name+" ApprovalRequired "+reason, func() bool {
		Must(t, k8sClient.Get(context.Background(), client.ObjectKey{Name: name}, &tn))
		c := meta.FindStatusCondition(tn.Status.Conditions, platformv1alpha1.ConditionApprovalRequired)
		return c != nil && c.Reason == reason
	})
	return &tn
}

// TestBeyondTheClassWaitsForAnAdminsApproval: a developer asks for more than the class allows
// (quota, a role binding); it is admitted, nothing is created, and it says what needs approval.
// The developer cannot approve it, not even naming an admin; an admin approves this very spec
// and the namespace gets it all; growing it after that needs a new approval for the growth
// only: it keeps what was approved meanwhile; a rejection says so.
func TestBeyondTheClassWaitsForAnAdminsApproval(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed("approvals")))
	Must(t, k8sClient.Create(ctx, Team("approvals", "approvals")))
	dev := user(t, "dana@example.com", "team-approvals")
	sre := user(t, "sre@example.com", "system:masters")

	tn := &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: "bigdata"},
		Spec: platformv1alpha1.TenantNamespaceSpec{Team: "approvals", Class: "approvals",
			Owners:       []platformv1alpha1.Subject{{Kind: "Group", Name: "team-approvals"}},
			Quota:        &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("200")}},
			RoleBindings: []platformv1alpha1.TenantRoleBinding{{ClusterRole: "admin", Subjects: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-approvals-leads"}}}},
		},
	}
	Must(t, dev.Create(ctx, tn))
	got := approvalOf(t, "bigdata", "AwaitingApproval")
	needs := strings.Join(got.Status.PendingApproval.Needs, "\n")
	for _, w := range []string{"spec.quota.hard[pods]", "exceeds the maximum of class approvals: 50", "spec.roleBindings[0].clusterRole"} {
		if !strings.Contains(needs, w) {
			t.Errorf("pendingApproval.needs %q does not say %q", needs, w)
		}
	}
	if !meta.IsStatusConditionFalse(got.Status.Conditions, platformv1alpha1.ConditionReady) || !meta.IsStatusConditionTrue(got.Status.Conditions, platformv1alpha1.ConditionStalled) {
		t.Errorf("a tenant waiting for approval: %+v", got.Status.Conditions)
	}
	if !apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: "bigdata"}, &corev1.Namespace{})) {
		t.Error("the namespace was created before the approval")
	}
	hash := got.Status.PendingApproval.SpecHash

	// The developer cannot decide, neither as herself nor in an admin's name: RBAC gives no
	// developer the status subresource, and even where a cluster does (here), the webhook refuses.
	if err := decide(dev, "bigdata", hash, "Approved", "dana@example.com"); !apierrors.IsForbidden(err) {
		t.Errorf("without RBAC on the status: %v", err)
	}
	Must(t, k8sClient.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "too-generous"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{platformv1alpha1.GroupVersion.Group}, Resources: []string{"tenantnamespaces/status"}, Verbs: []string{"get", "patch", "update"}}}}))
	Must(t, k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "too-generous"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "too-generous"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "dana@example.com"}}}))
	for _, by := range []string{"dana@example.com", "sre@example.com"} {
		// The new binding reaches the apiserver's RBAC cache within moments; until then RBAC
		// refuses first. Never may the request go through.
		var err error
		refused := Within(10*time.Second, func() bool {
			err = decide(dev, "bigdata", hash, "Approved", by)
			return err == nil || strings.Contains(err.Error(), "only platform admins")
		})
		if !refused || err == nil {
			t.Errorf("the developer approving as %s: %v", by, err)
		}
	}
	// Nor can an admin in another admin's name, or for another spec.
	if err := decide(sre, "bigdata", hash, "Approved", "someone-else"); err == nil || !strings.Contains(err.Error(), "must be you") {
		t.Errorf("an admin approving in another's name: %v", err)
	}
	if err := decide(sre, "bigdata", strings.Repeat("0", 32), "Approved", "sre@example.com"); err == nil || !strings.Contains(err.Error(), "is not the spec of TenantNamespace bigdata") {
		t.Errorf("an approval of another spec: %v", err)
	}

	// The admin approves: everything is provisioned.
	Must(t, decide(sre, "bigdata", hash, "Approved", "sre@example.com"))
	approvalOf(t, "bigdata", "Approved")
	var rq corev1.ResourceQuota
	Eventually(t, 30*time.Second, "the namespace has the approved quota and binding", func() bool {
		if k8sClient.Get(ctx, client.ObjectKey{Namespace: "bigdata", Name: "selfserve-quota"}, &rq) != nil {
			return false
		}
		pods := rq.Spec.Hard[corev1.ResourcePods]
		return pods.Value() == 200 && k8sClient.Get(ctx, client.ObjectKey{Namespace: "bigdata", Name: "selfserve-admin"}, &rbacv1.RoleBinding{}) == nil
	})

	// Growing it needs a new approval; meanwhile the tenant keeps what was approved.
	Update(t, dev, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "bigdata"}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Quota.Hard[corev1.ResourcePods] = resource.MustParse("300")
	})
	got = approvalOf(t, "bigdata", "AwaitingApproval")
	if got.Status.PendingApproval.SpecHash == hash {
		t.Error("the changed spec has the approved spec's hash")
	}
	if needs := strings.Join(got.Status.PendingApproval.Needs, "\n"); !strings.Contains(needs, "spec.quota.hard[pods]: Invalid value: \"300\"") || strings.Contains(needs, "roleBindings") {
		t.Errorf("pendingApproval.needs %q: want only the growth of the quota", needs)
	}
	Eventually(t, 30*time.Second, "the quota stays at the approved 200, the binding stays", func() bool {
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Namespace: "bigdata", Name: "selfserve-quota"}, &rq))
		pods := rq.Spec.Hard[corev1.ResourcePods]
		return pods.Value() == 200 && k8sClient.Get(ctx, client.ObjectKey{Namespace: "bigdata", Name: "selfserve-admin"}, &rbacv1.RoleBinding{}) == nil
	})
	Must(t, decide(sre, "bigdata", got.Status.PendingApproval.SpecHash, "Rejected", "sre@example.com"))
	approvalOf(t, "bigdata", "Rejected")

	// Each decision is an Event on the tenant, which its owners can read.
	Eventually(t, 20*time.Second, "Approved and Rejected events", func() bool {
		var list eventsv1.EventList
		Must(t, k8sClient.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault)))
		seen := map[string]bool{}
		for _, e := range list.Items {
			if e.Regarding.Name == "bigdata" && strings.Contains(e.Note, "sre@example.com") {
				seen[e.Reason] = true
			}
		}
		return seen["Approved"] && seen["Rejected"]
	})
}
