package team

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

func TestSummarize(t *testing.T) {
	cpu := func(s string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse(s)}
	}
	budget := &platformv1alpha1.TeamBudget{MaxNamespaces: ptr.To[int32](2), MaxQuota: cpu("8")}
	cases := []struct {
		name        string
		budget      *platformv1alpha1.TeamBudget
		held        []corev1.ResourceList
		waiting     int
		wantReason  string
		wantLeft    *int32
		wantCPULeft string
		wantMessage string
		ignored     []string
	}{
		{name: "no budget: nothing left to report", held: []corev1.ResourceList{cpu("4")}, wantReason: ReasonAccepted, wantMessage: "tenant namespaces held: 1"},
		{name: "room left", budget: budget, held: []corev1.ResourceList{cpu("3")}, wantReason: ReasonAccepted, wantLeft: ptr.To[int32](1), wantCPULeft: "5"},
		{name: "full, with tenants waiting", budget: budget, held: []corev1.ResourceList{cpu("4"), cpu("4")}, waiting: 3,
			wantReason: ReasonAccepted, wantLeft: ptr.To[int32](0), wantCPULeft: "0", wantMessage: "waiting for budget (OverBudget): 3"},
		{name: "over a lowered budget: nothing negative, and said", budget: budget, held: []corev1.ResourceList{cpu("6"), cpu("6"), cpu("1")},
			wantReason: ReasonOverBudget, wantLeft: ptr.To[int32](0), wantCPULeft: "0", wantMessage: "3 namespaces, budget 2; requests.cpu 13, budget 8"},
		{name: "members admitted before the rules act for nothing, and it is said", held: []corev1.ResourceList{cpu("1")},
			ignored:    []string{"spec.members[2]: Group system:authenticated is one of the cluster's own identities"},
			wantReason: ReasonMembersIgnored, wantMessage: "members that act for nothing: spec.members[2]: Group system:authenticated"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			team := &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "payments", Generation: 3}, Spec: platformv1alpha1.TeamSpec{Budget: tt.budget}}
			var held tenancy.Held
			for i, q := range tt.held {
				held.Add(string(rune('a'+i)), q)
			}
			team.Spec.Members = []platformv1alpha1.Subject{{Kind: "Group", Name: "team-payments"}, {Kind: "ServiceAccount", Namespace: "argocd", Name: "deployer"}}
			summarize(team, held, tt.waiting, tt.ignored)
			if team.Status.Members != "team-payments,argocd/deployer" {
				t.Errorf("members %q", team.Status.Members)
			}
			ready := meta.FindStatusCondition(team.Status.Conditions, platformv1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != tt.wantReason || !strings.Contains(ready.Message, tt.wantMessage) {
				t.Errorf("Ready %+v, want True/%s saying %q", ready, tt.wantReason, tt.wantMessage)
			}
			if team.Status.Namespaces != int32(len(tt.held)) || team.Status.Waiting != int32(tt.waiting) || team.Status.ObservedGeneration != 3 {
				t.Errorf("status %+v", team.Status)
			}
			left := team.Status.BudgetLeft
			if tt.budget == nil {
				if left != nil {
					t.Errorf("budget left %+v without a budget", left)
				}
				return
			}
			got := left.Quota[corev1.ResourceRequestsCPU]
			if *left.Namespaces != *tt.wantLeft || got.String() != tt.wantCPULeft {
				t.Errorf("budget left %d namespaces, %s CPUs; want %d, %s", *left.Namespaces, got.String(), *tt.wantLeft, tt.wantCPULeft)
			}
		})
	}
}
