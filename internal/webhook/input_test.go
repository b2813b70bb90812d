package webhook_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestInputTheApiserverWouldRefuseLaterIsRefusedAtAdmission: what the apiserver would refuse in
// the namespace, its ResourceQuota, its LimitRange or its pods is refused when the tenant (or
// its class) is applied, with the field path and the reason, instead of a tenant that never
// becomes Ready. Each case is one rule; the valid edge cases next to them are accepted.
func TestInputTheApiserverWouldRefuseLaterIsRefusedAtAdmission(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed("inputs")))
	Must(t, k8sClient.Create(ctx, Team("inputs", "inputs")))
	ivy := user(t, "ivy@example.com", "team-inputs")
	tenant := func(name string, mod func(*platformv1alpha1.TenantNamespace)) *platformv1alpha1.TenantNamespace {
		tn := &platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: platformv1alpha1.TenantNamespaceSpec{Team: "inputs", Class: "inputs",
				Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-inputs"}}},
		}
		mod(tn)
		return tn
	}
	quota := func(name, value string) func(*platformv1alpha1.TenantNamespace) {
		return func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{corev1.ResourceName(name): resource.MustParse(value)}}
		}
	}
	longSearches := func(tn *platformv1alpha1.TenantNamespace) {
		tn.Spec.DNS = &platformv1alpha1.DNSConfig{}
		for i := range 29 {
			tn.Spec.DNS.Searches = append(tn.Spec.DNS.Searches, platformv1alpha1.DNSSearchDomain(fmt.Sprintf("%s%02d.example.com", strings.Repeat("d", 58), i)))
		}
	}
	refused := []struct {
		name   string
		tenant *platformv1alpha1.TenantNamespace
		want   []string
	}{
		{"a negative quota", tenant("in-negative", quota("pods", "-1")), []string{"spec.quota.hard[pods]", "must be greater than or equal to 0"}},
		{"a quota on a resource Kubernetes does not know", tenant("in-unknown", quota("gpus", "1")), []string{"spec.quota.hard[gpus]", "must be a standard resource"}},
		{"a fraction of a count", tenant("in-fraction", quota("pods", "1500m")), []string{"spec.quota.hard[pods]", "must be an integer"}},
		{"a namespace label value the apiserver refuses", tenant("in-label-value", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Labels = map[string]string{"example.com/owner": "Jane Doe!"}
		}), []string{"spec.labels", "a valid label must be"}},
		{"a namespace label key the apiserver refuses", tenant("in-label-key", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Labels = map[string]string{"example.com/cost center": "x"}
		}), []string{"spec.labels", "name part must consist of alphanumeric characters"}},
		{"search domains longer in all than a pod may have", tenant("in-searches", longSearches), []string{"spec.dns.searches", "a pod's may have at most 2048"}},
		{"every authenticated user as an owner", tenant("in-everyone", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Owners = append(tn.Spec.Owners, platformv1alpha1.Subject{Kind: "Group", Name: "system:authenticated"})
		}), []string{"spec.owners[1]", "system:authenticated stands for every user or workload", "allowedBroadSubjects"}},
		{"anonymous users bound to view", tenant("in-anonymous", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.RoleBindings = []platformv1alpha1.TenantRoleBinding{{ClusterRole: "view", Subjects: []platformv1alpha1.Subject{{Kind: "Group", Name: "system:unauthenticated"}}}}
		}), []string{"spec.roleBindings[0].subjects[0]", "system:unauthenticated"}},
		{"a container default above the class's maximum", tenant("in-limits", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Limits = &platformv1alpha1.ContainerLimits{Default: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Gi")}}
		}), []string{"spec.limits.default[memory]", "default value 16Gi is greater than max value 8Gi"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := ivy.Create(ctx, tt.tenant)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("rejection %q does not say %q", err, w)
				}
			}
			if !apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: tt.tenant.Name}, &platformv1alpha1.TenantNamespace{})) {
				t.Error("the TenantNamespace exists after the rejection")
			}
		})
	}

	accepted := []*platformv1alpha1.TenantNamespace{
		// An owner written as kubectl prints a RoleBinding subject, and the quota names
		// Kubernetes accepts beyond its own (object counts, extended resources).
		tenant("in-valid", func(tn *platformv1alpha1.TenantNamespace) {
			tn.Spec.Owners = []platformv1alpha1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "team-inputs"}}
			tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{
				"count/deployments.apps": resource.MustParse("20"), "requests.nvidia.com/gpu": resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("0"),
			}}
			tn.Spec.Labels = map[string]string{"example.com/owner": "jane.doe"}
		}),
	}
	for _, tn := range accepted {
		Must(t, ivy.Create(ctx, tn))
		Eventually(t, 30*time.Second, tn.Name+" is Ready", func() bool {
			var got platformv1alpha1.TenantNamespace
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(tn), &got) == nil && meta.IsStatusConditionTrue(got.Status.Conditions, platformv1alpha1.ConditionReady)
		})
	}
}

// TestSelfContradictoryClassIsRefused: a class whose defaults every tenant would inherit and
// fail with is refused when the SREs apply it.
func TestSelfContradictoryClassIsRefused(t *testing.T) {
	ctx := context.Background()
	q := resource.MustParse
	cases := []struct {
		name string
		spec platformv1alpha1.TenantClassSpec
		want []string
	}{
		{"a default quota above the maximum", platformv1alpha1.TenantClassSpec{Quota: platformv1alpha1.ClassQuota{
			Default: corev1.ResourceList{corev1.ResourcePods: q("80")}, Max: corev1.ResourceList{corev1.ResourcePods: q("50")},
		}}, []string{"spec.quota.default[pods]", "above the class's own maximum 50"}},
		{"a maximum on a resource Kubernetes does not know", platformv1alpha1.TenantClassSpec{Quota: platformv1alpha1.ClassQuota{
			Max: corev1.ResourceList{"cpus": q("8")},
		}}, []string{"spec.quota.max[cpus]", "must be a standard resource"}},
		{"a container minimum above the maximum", platformv1alpha1.TenantClassSpec{Limits: &platformv1alpha1.ContainerLimits{
			Min: corev1.ResourceList{corev1.ResourceMemory: q("2Gi")}, Max: corev1.ResourceList{corev1.ResourceMemory: q("1Gi")},
		}}, []string{"spec.limits.min[memory]", "min value 2Gi is greater than max value 1Gi"}},
	}
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("contradictory-%d", i)}, Spec: tt.spec}
			err := k8sClient.Create(ctx, class)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("rejection %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestWhatAdmissionAcceptsCanBeProvisioned is the property behind the rules above: random
// tenant specs, valid and not, go through admission; every one it accepts becomes Ready without
// any part failing to apply. A fixed seed keeps the run repeatable; change it to explore.
func TestWhatAdmissionAcceptsCanBeProvisioned(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed("random")))
	Must(t, k8sClient.Create(ctx, Team("random", "random")))
	dev := user(t, "rand@example.com", "team-random")
	const seed = 20261130
	rng := rand.New(rand.NewPCG(seed, seed))
	pick := func(pool []string) string { return pool[rng.IntN(len(pool))] }
	quotaNames := []string{"pods", "requests.cpu", "requests.memory", "limits.memory", "services", "count/deployments.apps",
		"requests.nvidia.com/gpu", "gpus", "Bad_Name/x", "requests.storage"}
	quantities := []string{"0", "1", "-1", "500m", "2", "10", "64Gi", "1.5", "100"}
	limitValues := map[corev1.ResourceName][]string{corev1.ResourceCPU: {"100m", "2", "500", "-1"}, corev1.ResourceMemory: {"1Mi", "128Mi", "16Gi"}, "gpus": {"1"}}

	var accepted []string
	for i := range 40 {
		tn := &platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rand-%02d", i)},
			Spec: platformv1alpha1.TenantNamespaceSpec{Team: "random", Class: "random",
				Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-random"}}},
		}
		if n := rng.IntN(4); n > 0 {
			tn.Spec.Quota = &platformv1alpha1.TenantQuota{Hard: corev1.ResourceList{}}
			for range n {
				tn.Spec.Quota.Hard[corev1.ResourceName(pick(quotaNames))] = resource.MustParse(pick(quantities))
			}
		}
		if rng.IntN(2) == 0 {
			l := &platformv1alpha1.ContainerLimits{}
			lists := []*corev1.ResourceList{&l.Default, &l.DefaultRequest, &l.Max, &l.Min}
			for range 1 + rng.IntN(3) {
				name := []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, "gpus"}[rng.IntN(3)]
				list := lists[rng.IntN(len(lists))]
				if *list == nil {
					*list = corev1.ResourceList{}
				}
				(*list)[name] = resource.MustParse(pick(limitValues[name]))
			}
			tn.Spec.Limits = l
		}
		if rng.IntN(3) == 0 {
			tn.Spec.Labels = map[string]string{"example.com/" + pick([]string{"team", "cost center", "x"}): pick([]string{"ok", "bad value!", ""})}
		}
		if err := dev.Create(ctx, tn); err == nil {
			accepted = append(accepted, tn.Name)
		} else if !apierrors.IsInvalid(err) {
			t.Errorf("%s: refused without a field (%v); spec %+v", tn.Name, err, tn.Spec)
		}
	}
	t.Logf("seed %d: %d of 40 random specs accepted", seed, len(accepted))
	if len(accepted) == 0 || len(accepted) == 40 {
		t.Fatalf("%d of 40 accepted: the generator no longer mixes valid and invalid specs", len(accepted))
	}
	for _, name := range accepted {
		tn := settled(t, name)
		for _, c := range tn.Status.Conditions {
			if c.Reason == "ApplyFailed" {
				t.Errorf("%s was admitted but %s failed: %s (spec %+v)", name, c.Type, c.Message, tn.Spec)
			}
		}
	}
}

// TestServiceSLOQueryDatadogCannotParseIsRefused: a query with an unclosed brace or parenthesis
// is refused at apply with its field, since Datadog would answer 400 after the fact.
func TestServiceSLOQueryDatadogCannotParseIsRefused(t *testing.T) {
	ctx := context.Background()
	slo := func(name, good, total string) *platformv1alpha1.ServiceSLO {
		return &platformv1alpha1.ServiceSLO{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: platformv1alpha1.ServiceSLOSpec{
				Service:    "checkout",
				Indicator:  platformv1alpha1.Indicator{Metric: &platformv1alpha1.MetricIndicator{Good: good, Total: total}},
				Objectives: []platformv1alpha1.Objective{{Timeframe: "30d", Target: "99.9"}},
			},
		}
	}
	err := k8sClient.Create(ctx, slo("unclosed", "sum:requests.ok{service:checkout}.as_count()", "sum:requests{service:checkout.as_count()"))
	if err == nil || !strings.Contains(err.Error(), "spec.indicator.metric.total") || !strings.Contains(err.Error(), "'{' is not closed: Datadog refuses a query it cannot parse") {
		t.Errorf("an unclosed brace: %v", err)
	}
	Must(t, k8sClient.Create(ctx, slo("parsable", "sum:requests.ok{service:checkout}.as_count()", "sum:requests{service:checkout}.as_count()")))
}

// TestWhatAdmissionAcceptsForAClassCanBeProvisioned is the same property for TenantClass:
// random classes (quota defaults and caps, container limits), valid and not; a tenant that takes
// everything from each class admission accepts becomes Ready, so no class can be admitted whose
// defaults every tenant would fail with.
func TestWhatAdmissionAcceptsForAClassCanBeProvisioned(t *testing.T) {
	ctx := context.Background()
	const seed = 20261201
	rng := rand.New(rand.NewPCG(seed, seed))
	pick := func(pool []string) string { return pool[rng.IntN(len(pool))] }
	names := []corev1.ResourceName{"pods", "requests.cpu", "requests.memory", "limits.memory", "services", "count/configmaps", "gpus"}
	quantities := []string{"0", "1", "10", "500m", "4Gi", "-1", "1500m", "100"}
	randomList := func(pool []corev1.ResourceName) corev1.ResourceList {
		l := corev1.ResourceList{}
		for range 1 + rng.IntN(2) {
			l[pool[rng.IntN(len(pool))]] = resource.MustParse(pick(quantities))
		}
		return l
	}
	var accepted []string
	for i := range 30 {
		class := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rand-class-%02d", i)}}
		if rng.IntN(3) > 0 {
			class.Spec.Quota.Default = randomList(names)
		}
		if rng.IntN(3) > 0 {
			class.Spec.Quota.Max = randomList(names)
		}
		if rng.IntN(2) == 0 {
			container := []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, "gpus"}
			class.Spec.Limits = &platformv1alpha1.ContainerLimits{}
			for _, l := range []*corev1.ResourceList{&class.Spec.Limits.Default, &class.Spec.Limits.DefaultRequest, &class.Spec.Limits.Max, &class.Spec.Limits.Min} {
				if rng.IntN(2) == 0 {
					*l = randomList(container)
				}
			}
		}
		if err := k8sClient.Create(ctx, class); err == nil {
			accepted = append(accepted, class.Name)
		} else if !apierrors.IsInvalid(err) {
			t.Errorf("%s: refused without a field (%v); spec %+v", class.Name, err, class.Spec)
		}
	}
	t.Logf("seed %d: %d of 30 random classes accepted", seed, len(accepted))
	if len(accepted) == 0 || len(accepted) == 30 {
		t.Fatalf("%d of 30 accepted: the generator no longer mixes valid and invalid classes", len(accepted))
	}
	Must(t, k8sClient.Create(ctx, Team("rand-classes", accepted...)))
	for _, name := range accepted {
		Must(t, k8sClient.Create(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: platformv1alpha1.TenantNamespaceSpec{Team: "rand-classes", Class: name, Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-rand-classes"}}}}))
	}
	for _, name := range accepted {
		tn := settled(t, name)
		if !meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady) {
			var class platformv1alpha1.TenantClass
			Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: name}, &class))
			t.Errorf("class %s was admitted but its tenant is not Ready: %+v\nclass %+v", name, tn.Status.Conditions, class.Spec)
		}
	}
}

// settled waits until an admitted tenant is Ready, waits for an admin's approval (beyond its
// class is admitted and waits: not a failure), or has a part that failed to apply, and returns it.
func settled(t *testing.T, name string) *platformv1alpha1.TenantNamespace {
	t.Helper()
	var tn platformv1alpha1.TenantNamespace
	Eventually(t, 30*time.Second, name+" is Ready, waits for approval, or a part failed", func() bool {
		Must(t, k8sClient.Get(context.Background(), client.ObjectKey{Name: name}, &tn))
		for _, c := range tn.Status.Conditions {
			if c.Reason == "ApplyFailed" {
				return true
			}
		}
		return meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady) ||
			meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionApprovalRequired)
	})
	return &tn
}
