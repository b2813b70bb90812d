package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	"github.com/selfserve-dev/selfserve/test/testutil"
)

// watchedLabel marks the benchmark's monitored tenants, to delete them at once.
const watchedLabel = "bench.selfserve.dev/watched"

// baseline are the monitors the benchmark's class gives each tenant.
var baseline = []platformv1alpha1.BaselineMonitor{
	{Name: "crash-loop", Template: platformv1alpha1.BaselineCrashLooping},
	{Name: "oom-killed", Template: platformv1alpha1.BaselineOOMKilled},
	{Name: "pods-pending", Template: platformv1alpha1.BaselinePodsPending},
	{Name: "quota", Template: platformv1alpha1.BaselineQuotaCritical},
	{Name: "no-replicas", Template: platformv1alpha1.BaselineNoAvailableReplicas},
}

// tenantsPhase creates n tenants of a class with the five baseline monitors beside the
// ServiceSLOs, counts the Datadog calls to create their monitors and per poll in steady state
// (against steadyBefore, the same count without them), then deletes them and counts what is
// left in Datadog.
func tenantsPhase(ctx context.Context, c client.Client, fake *datadogfake.Server, n int, steadyBefore map[string]int, pollsBefore int) error {
	if n == 0 {
		return nil
	}
	if err := c.Create(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "watched"},
		Spec: platformv1alpha1.TenantClassSpec{Monitoring: &platformv1alpha1.ClassMonitoring{Baseline: baseline}}}); err != nil {
		return err
	}
	team := testutil.Team("watchers", "watched")
	team.Spec.Notify = []string{"@slack-watchers"}
	if err := c.Create(ctx, team); err != nil {
		return err
	}
	fmt.Printf("Creating %d TenantNamespaces with %d baseline monitors each ...\n", n, len(baseline))
	fake.ResetRequests()
	start := time.Now()
	if err := testutil.Parallel(n, 16, func(i int) error {
		return c.Create(ctx, &platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("watched-%04d", i), Labels: map[string]string{watchedLabel: "true"}},
			Spec:       platformv1alpha1.TenantNamespaceSpec{Team: "watchers", Class: "watched", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-watchers"}}},
		})
	}); err != nil {
		return err
	}
	if err := waitMonitored(ctx, c, n); err != nil {
		return err
	}
	createTime := time.Since(start)
	create := fake.Requests()
	fmt.Printf("Steady state with the tenants: counting calls over the next 3 polls ...\n")
	steady, polls, err := steadyState(fake, 3)
	if err != nil {
		return err
	}
	_, held := fake.Tagged(datadog.TagKindTenant)

	fmt.Printf("Deleting the %d tenants ...\n", n)
	deleteStart := time.Now()
	if err := c.DeleteAllOf(ctx, &platformv1alpha1.TenantNamespace{}, client.MatchingLabels{watchedLabel: "true"}); err != nil {
		return err
	}
	var left []map[string]any
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		if _, left = fake.Tagged(datadog.TagKindTenant); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	deleteTime := time.Since(deleteStart)

	fmt.Printf(`
Baseline monitors, %d TenantNamespaces with %d each, beside the ServiceSLOs
  creation: %.1f s, %d calls: %s
  per tenant: %.2f monitor creates
  steady state: %d calls in %d polls = %.1f per poll (%s); without the tenants %.1f per poll (%s)
  Datadog holds %d baseline monitors (want %d: no duplicates)
  tenants deleted: their monitors gone from Datadog in %.1f s, %d left (want 0)
`, n, len(baseline), createTime.Seconds(), total(create), describe(create),
		float64(create["POST /api/v1/monitor"])/float64(n),
		total(steady), polls, float64(total(steady))/float64(polls), describe(steady),
		float64(total(steadyBefore))/float64(pollsBefore), describe(steadyBefore),
		len(held), n*len(baseline), deleteTime.Seconds(), len(left))
	return nil
}

// waitMonitored waits until n tenants report every baseline monitor synced.
func waitMonitored(ctx context.Context, c client.Client, n int) error {
	for deadline := time.Now().Add(30 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		var list platformv1alpha1.TenantNamespaceList
		if err := c.List(ctx, &list, client.MatchingLabels{watchedLabel: "true"}); err != nil {
			return err
		}
		done := 0
		for _, t := range list.Items {
			if meta.IsStatusConditionTrue(t.Status.Conditions, platformv1alpha1.ConditionMonitored) && len(t.Status.Monitors) == len(baseline) {
				done++
			}
		}
		if done >= n {
			return nil
		}
	}
	return fmt.Errorf("not every tenant got its baseline monitors")
}
