package webhook_test

import (
	"context"
	"fmt"
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
