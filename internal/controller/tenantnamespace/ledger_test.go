package tenantnamespace_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestBudgetHoldsAfterParallelQuotaIncreases: 20 rounds of 4–10 parallel quota changes of a
// team's provisioned tenants, with no admission to stop them (webhooks are off here, as when
// admission is raced). After every round, what the ResourceQuotas hold together stays within
// the team's budget; increases that fit are granted, the others are capped and say OverBudget.
func TestBudgetHoldsAfterParallelQuotaIncreases(t *testing.T) {
	ctx := context.Background()
	const tenants, budgetCPU = 10, 60
	team := Team("ledger", "standard")
	team.Spec.Budget = &platformv1alpha1.TeamBudget{MaxQuota: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse(fmt.Sprint(budgetCPU))}}
	Must(t, admin.Create(ctx, team))
	names := make([]string, tenants)
	for i := range names {
		names[i] = fmt.Sprintf("ledger-%d", i)
		Must(t, admin.Create(ctx, newTenant(names[i], "ledger")))
	}
	for _, n := range names {
		waitReady(t, n)
	}

	held := func() (sum int64, capped int) {
		for _, n := range names {
			var rq corev1.ResourceQuota
			Must(t, get(t, &rq, n, "selfserve-quota"))
			cpu := rq.Spec.Hard[corev1.ResourceRequestsCPU]
			sum += cpu.Value()
			var tn platformv1alpha1.TenantNamespace
			Must(t, get(t, &tn, "", n))
			if c := meta.FindStatusCondition(tn.Status.Conditions, platformv1alpha1.ConditionQuotaReady); c != nil && c.Reason == tenancy.ReasonOverBudget {
				capped++
			}
		}
		return sum, capped
	}
	settled := func(round int) {
		Eventually(t, 60*time.Second, fmt.Sprintf("round %d: every tenant has acted on its spec", round), func() bool {
			for _, n := range names {
				var tn platformv1alpha1.TenantNamespace
				if get(t, &tn, "", n) != nil {
					return false
				}
				c := meta.FindStatusCondition(tn.Status.Conditions, platformv1alpha1.ConditionQuotaReady)
				if c == nil || c.ObservedGeneration != tn.Generation {
					return false
				}
			}
			return true
		})
	}

	rng := rand.New(rand.NewPCG(20261204, 25))
	var roundsCapped, roundsFull int
	for round := 1; round <= 20; round++ {
		picked := rng.Perm(tenants)[:4+rng.IntN(7)]
		cpus := make([]int, len(picked))
		for i := range picked {
			cpus[i] = 2 + rng.IntN(9) // 2–10, within the class: rounds that fit and rounds that do not
		}
		Must(t, Parallel(len(picked), len(picked), func(i int) error {
			return updateCPU(names[picked[i]], cpus[i])
		}))
		settled(round)
		sum, capped := held()
		if sum > budgetCPU {
			t.Fatalf("round %d: the ResourceQuotas hold %d CPUs together, over the team's budget of %d", round, sum, budgetCPU)
		}
		if capped > 0 {
			roundsCapped++
		} else {
			roundsFull++
		}
		t.Logf("round %d: %d tenants changed, %d CPUs held, %d capped", round, len(picked), sum, capped)
	}
	if roundsCapped == 0 || roundsFull == 0 {
		t.Errorf("%d rounds ended with capped tenants and %d without: the rounds did not test both sides of the budget", roundsCapped, roundsFull)
	}

	// Decreases always go through, and the room they free goes to the capped tenants.
	for _, n := range names {
		Must(t, updateCPU(n, 2))
	}
	Eventually(t, 90*time.Second, "every tenant at 2 CPUs, none capped", func() bool {
		sum, capped := held()
		return sum == 2*tenants && capped == 0
	})
}

// updateCPU sets a tenant's requests.cpu, retrying on conflicts with the operator's writes.
func updateCPU(name string, cpu int) error {
	return Attempt(admin, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse(fmt.Sprint(cpu))}}
	})
}

// TestDeletedClassFreesNoBudget: a tenant whose class is deleted keeps its namespace and its
// quota, and the quota still counts in its team's budget: a new tenant cannot take that room,
// and the Team still reports it.
func TestDeletedClassFreesNoBudget(t *testing.T) {
	ctx := context.Background()
	gone := standardClass()
	gone.Name, gone.Spec.IsDefault = "ledger-doomed", false
	Must(t, admin.Create(ctx, gone))
	team := Team("ledger-two", "ledger-doomed", "standard")
	team.Spec.Budget = &platformv1alpha1.TeamBudget{MaxQuota: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("10")}}
	Must(t, admin.Create(ctx, team))
	first := newTenant("ledger-first", "ledger-two")
	first.Spec.Class = "ledger-doomed"
	first.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("6")}}
	Must(t, admin.Create(ctx, first))
	waitReady(t, "ledger-first")
	Must(t, admin.Delete(ctx, gone))
	waitReason(t, "ledger-first", tenancy.ReasonClassNotFound)

	second := newTenant("ledger-second", "ledger-two")
	second.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("8")}}
	Must(t, admin.Create(ctx, second))
	got := waitReason(t, "ledger-second", tenancy.ReasonOverBudget)
	if ready := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.ConditionReady); ready == nil || !containsAll(ready.Message, "requests.cpu", "over team ledger-two's budget of 10") {
		t.Errorf("the second tenant says %+v", ready)
	}
	Eventually(t, 30*time.Second, "the Team still counts the 6 CPUs of the tenant without a class", func() bool {
		var tm platformv1alpha1.Team
		Must(t, get(t, &tm, "", "ledger-two"))
		cpu := tm.Status.Quota[corev1.ResourceRequestsCPU]
		return cpu.Value() == 6
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
