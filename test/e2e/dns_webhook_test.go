package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestDNSThroughTheWebhookWithoutMutatingAdmissionPolicy: on an apiserver that serves no
// MutatingAdmissionPolicy (a GKE cluster below 1.36), the operator picks the webhook for DNS
// injection (--dns-injection=auto), says so in its metric, and the pods of a tenant with the
// cache enabled get the same settings as through the policy, by the same rules; the workload
// guard rails, a ValidatingAdmissionPolicy, hold there too.
func TestDNSThroughTheWebhookWithoutMutatingAdmissionPolicy(t *testing.T) {
	ctx := context.Background()
	env, err := controlplane.StartEnv(ctx, controlplane.Options{Webhooks: true, APIServerArgs: map[string]string{
		"runtime-config":            "admissionregistration.k8s.io/v1/mutatingadmissionpolicies=false,admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings=false",
		"disable-admission-plugins": "MutatingAdmissionPolicy",
	}}, nil)
	Must(t, err)
	defer func() { Must(t, env.Stop()) }()
	if v, err := controlplane.Metric("selfserve_admission_by_policy", map[string]string{"feature": "dns"}); err != nil || v != 0 {
		t.Errorf("selfserve_admission_by_policy{feature=dns} = %v (%v), want 0: the webhook injects", v, err)
	}
	c := env.Admin
	CreateClusterDNS(t, c)
	SetNodeLocalDNS(t, c, 1, 1)
	Must(t, c.Create(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "old"},
		Spec: platformv1alpha1.TenantClassSpec{Workloads: platformv1alpha1.WorkloadRules{Registries: []string{"*"}}}}))
	Must(t, c.Create(ctx, Team("old", "old")))
	Must(t, c.Create(ctx, &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: "old-web"},
		Spec: platformv1alpha1.TenantNamespaceSpec{
			Team: "old", Class: "old", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-old"}},
			DNS: &platformv1alpha1.DNSConfig{NodeLocalCache: platformv1alpha1.NodeLocalCacheEnabled, Ndots: ptr.To[int32](2)},
		},
	}))
	Eventually(t, 30*time.Second, "the namespace is labelled for the webhook", func() bool {
		var ns corev1.Namespace
		return c.Get(ctx, client.ObjectKey{Name: "old-web"}, &ns) == nil && ns.Labels[nodelocaldns.LabelInjection] == nodelocaldns.InjectionEnabled
	})
	// A developer of team old (no kube-controller-manager here: this also makes the
	// namespace's default ServiceAccount).
	dev, err := env.CP.PodCreator(ctx, "old-web", "dev@example.com", "team-old")
	Must(t, err)

	pod := func(name string, mutate func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "old-web", Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	plain := pod("plain", nil)
	Must(t, c.Create(ctx, plain))
	if plain.Spec.DNSPolicy != corev1.DNSNone || plain.Spec.DNSConfig == nil ||
		strings.Join(plain.Spec.DNSConfig.Nameservers, ",") != "169.254.20.10,"+ClusterDNSIP {
		t.Errorf("the webhook did not inject the cache and the fallback: %s %+v", plain.Spec.DNSPolicy, plain.Spec.DNSConfig)
	}
	if got := plain.Annotations[nodelocaldns.AnnotationInjected]; got != "nameservers=169.254.20.10,"+ClusterDNSIP {
		t.Errorf("annotation %s=%q", nodelocaldns.AnnotationInjected, got)
	}
	for name, mutate := range map[string]func(*corev1.Pod){
		"own-config": func(p *corev1.Pod) { p.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"example.com"}} },
		"opted-out":  func(p *corev1.Pod) { p.Annotations = map[string]string{nodelocaldns.AnnotationOptOut: "disabled"} },
	} {
		p := pod(name, mutate)
		Must(t, c.Create(ctx, p))
		if p.Spec.DNSPolicy == corev1.DNSNone || p.Annotations[nodelocaldns.AnnotationInjected] != "" {
			t.Errorf("pod %s was injected: %s %+v", name, p.Spec.DNSPolicy, p.Spec.DNSConfig)
		}
	}
	// The class allows no priority class: kube-apiserver refuses one to a developer (cluster
	// admins are exempt), with the operator stopped.
	Must(t, env.Operator.Stop())
	hog := pod("hog", func(p *corev1.Pod) { p.Spec.PriorityClassName = "system-cluster-critical" })
	Eventually(t, 30*time.Second, "the workload policy refuses system-cluster-critical", func() bool {
		err := dev.Create(ctx, hog, client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "spec.priorityClassName: system-cluster-critical is not a priority class TenantClass old allows")
	})
}
