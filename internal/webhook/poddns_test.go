package webhook_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

func TestPodsOfEnabledTenantsGetNodeLocalDNS(t *testing.T) {
	ctx := context.Background()
	CreateClusterDNS(t, k8sClient)
	SetNodeLocalDNS(t, k8sClient, 2, 2)
	Must(t, k8sClient.Create(ctx, &platformv1alpha1.TenantClass{
		ObjectMeta: metav1.ObjectMeta{Name: "infra"},
		Spec: platformv1alpha1.TenantClassSpec{
			PodSecurity: platformv1alpha1.ClassPodSecurity{Default: platformv1alpha1.PodSecurityPrivileged, Minimum: platformv1alpha1.PodSecurityPrivileged},
		},
	}))
	tenant := &platformv1alpha1.TenantNamespace{
		ObjectMeta: metav1.ObjectMeta{Name: "edge"},
		Spec: platformv1alpha1.TenantNamespaceSpec{
			Team: "edge", Class: "infra",
			Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-edge"}},
			DNS: &platformv1alpha1.DNSConfig{
				NodeLocalCache: platformv1alpha1.NodeLocalCacheEnabled, Ndots: ptr.To[int32](2),
				Searches: []platformv1alpha1.DNSSearchDomain{"corp.example.com"},
				Options:  []platformv1alpha1.DNSOption{{Name: "timeout", Value: ptr.To("2")}},
			},
		},
	}
	Eventually(t, 10*time.Second, "the cache holds the class", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "infra"}, &platformv1alpha1.TenantClass{}) == nil
	})
	Must(t, k8sClient.Create(ctx, tenant))
	// This apiserver serves MutatingAdmissionPolicy: the settings come from the policy
	// selfserve-tenant-dns, with no webhook round trip (the webhook's own rules are tested in
	// poddns_handler_test.go, and on an apiserver without the policy in the e2e tests).
	Eventually(t, 30*time.Second, "the namespace is labelled for injection by the policy", func() bool {
		var ns corev1.Namespace
		return k8sClient.Get(ctx, client.ObjectKey{Name: "edge"}, &ns) == nil && ns.Labels[nodelocaldns.LabelInjection] == nodelocaldns.InjectionPolicy
	})

	newPod := func(name string, mutate func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "edge"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
		}
		if mutate != nil {
			mutate(p)
		}
		Must(t, k8sClient.Create(ctx, p))
		return p
	}

	injected := newPod("plain", nil)
	want := &corev1.PodDNSConfig{
		Nameservers: []string{"169.254.20.10", ClusterDNSIP},
		Searches:    []string{"edge.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example.com"},
		Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "timeout", Value: ptr.To("2")}},
	}
	if injected.Spec.DNSPolicy != corev1.DNSNone {
		t.Errorf("dnsPolicy %q, want None", injected.Spec.DNSPolicy)
	}
	if diff := cmp.Diff(want, injected.Spec.DNSConfig); diff != "" {
		t.Errorf("injected dnsConfig (-want +got):\n%s", diff)
	}
	if got := injected.Annotations[nodelocaldns.AnnotationInjected]; got != "nameservers=169.254.20.10,"+ClusterDNSIP {
		t.Errorf("annotation %q", got)
	}

	leftAlone := map[string]func(*corev1.Pod){
		"host-network": func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
		},
		"dns-default": func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSDefault },
		"own-config": func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}}}
		},
		"opted-out": func(p *corev1.Pod) {
			p.Annotations = map[string]string{nodelocaldns.AnnotationOptOut: "disabled"}
		},
	}
	for name, mutate := range leftAlone {
		t.Run("left alone: "+name, func(t *testing.T) {
			p := newPod(name, mutate)
			if p.Spec.DNSPolicy == corev1.DNSNone || p.Annotations[nodelocaldns.AnnotationInjected] != "" {
				t.Errorf("pod was injected: policy %s, config %+v", p.Spec.DNSPolicy, p.Spec.DNSConfig)
			}
		})
	}

	t.Run("disabling stops injection for new pods", func(t *testing.T) {
		Must(t, k8sClient.Get(ctx, client.ObjectKey{Name: "edge"}, tenant))
		tenant.Spec.DNS.NodeLocalCache = platformv1alpha1.NodeLocalCacheDisabled
		Must(t, k8sClient.Update(ctx, tenant))
		Eventually(t, 20*time.Second, "the label is removed", func() bool {
			var ns corev1.Namespace
			return k8sClient.Get(ctx, client.ObjectKey{Name: "edge"}, &ns) == nil && ns.Labels[nodelocaldns.LabelInjection] == ""
		})
		// kube-apiserver's admission sees the label gone a moment after this client does: a pod
		// created in that moment may still be injected. Within the deadline one must not be.
		var p *corev1.Pod
		for i := 0; ; i++ {
			p = newPod(fmt.Sprintf("after-disable-%d", i), nil)
			if p.Spec.DNSPolicy == corev1.DNSClusterFirst && p.Spec.DNSConfig == nil || i == 20 {
				break
			}
			time.Sleep(time.Second)
		}
		if p.Spec.DNSPolicy != corev1.DNSClusterFirst || p.Spec.DNSConfig != nil {
			t.Errorf("pod created after disabling was injected: %s %+v", p.Spec.DNSPolicy, p.Spec.DNSConfig)
		}
		// The pod injected before keeps its settings until it is recreated.
		var old corev1.Pod
		Must(t, k8sClient.Get(ctx, client.ObjectKeyFromObject(injected), &old))
		if old.Spec.DNSPolicy != corev1.DNSNone {
			t.Error("a running pod's DNS settings changed")
		}
	})
}
