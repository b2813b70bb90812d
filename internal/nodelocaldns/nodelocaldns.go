package nodelocaldns

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

const (
	// LabelInjection on a namespace sends its pod creations to the DNS webhook. The tenant
	// controller sets it only while the node-local cache is there to answer.
	LabelInjection = "platform.selfserve.dev/dns-injection"
	// InjectionEnabled is the value of LabelInjection that enables injection.
	InjectionEnabled = "enabled"
	// AnnotationOptOut on a pod, set to "disabled", leaves the pod alone.
	AnnotationOptOut = "platform.selfserve.dev/dns-injection"
	// AnnotationInjected records on a pod what the webhook injected.
	AnnotationInjected = "platform.selfserve.dev/dns-injected"

	// defaultNdots is Kubernetes' ndots for ClusterFirst pods, kept when the tenant sets none.
	defaultNdots = 5
	// maxSearches is the most search domains a pod may have.
	maxSearches = 32
	// maxSearchChars is the longest search list, joined by spaces, the apiserver accepts on a pod.
	maxSearchChars = 2048
)

// Settings describe the cluster's DNS as the operator is configured.
type Settings struct {
	// NodeLocalIP is the link-local address the node-local cache listens on.
	NodeLocalIP string
	// ClusterDomain is the cluster's DNS domain, cluster.local by default.
	ClusterDomain string
	// ClusterDNSService is the Service whose ClusterIP is the cluster DNS (kube-dns).
	ClusterDNSService types.NamespacedName
	// DaemonSetNamespace and DaemonSetSelector find the node-local-dns DaemonSet.
	DaemonSetNamespace string
	DaemonSetSelector  labels.Selector
}

// DefaultSettings are the flags' defaults: the addresses of the upstream NodeLocal DNSCache
// manifests and of GKE's.
func DefaultSettings() Settings {
	return Settings{
		NodeLocalIP:        "169.254.20.10",
		ClusterDomain:      "cluster.local",
		ClusterDNSService:  types.NamespacedName{Namespace: "kube-system", Name: "kube-dns"},
		DaemonSetNamespace: "kube-system",
		DaemonSetSelector:  labels.SelectorFromSet(labels.Set{"k8s-app": "node-local-dns"}),
	}
}

// Effective returns the DNS configuration in effect for a tenant: its own, else its class's.
// Nil means the tenant asks for nothing.
func Effective(t *platformv1alpha1.TenantNamespace, c *platformv1alpha1.TenantClass) *platformv1alpha1.DNSConfig {
	if t.Spec.DNS != nil {
		return t.Spec.DNS
	}
	if c != nil {
		return c.Spec.DNS
	}
	return nil
}

// Enabled reports whether a DNS configuration asks for the node-local cache.
func Enabled(cfg *platformv1alpha1.DNSConfig) bool {
	return cfg != nil && cfg.NodeLocalCache == platformv1alpha1.NodeLocalCacheEnabled
}

// standardSearches are the search domains every pod of the namespace gets first.
func (s Settings) standardSearches(namespace string) []string {
	d := s.ClusterDomain
	return []string{namespace + ".svc." + d, "svc." + d, d}
}

// SearchListTooLong says, when the search list a pod of namespace would get with cfg is longer
// than the apiserver accepts on a pod, by how much; "" when it fits. The tenant's domains come
// after the three standard ones, so a name that fits in one namespace may not in another.
func (s Settings) SearchListTooLong(namespace string, cfg *platformv1alpha1.DNSConfig) string {
	if cfg == nil {
		return ""
	}
	all := s.standardSearches(namespace)
	for _, d := range cfg.Searches {
		all = append(all, string(d))
	}
	if n := len(strings.Join(all, " ")); n > maxSearchChars {
		return fmt.Sprintf("with the standard %s the search list is %d characters; a pod's may have at most %d", strings.Join(all[:3], " "), n, maxSearchChars)
	}
	return ""
}

// PodDNSConfig is the resolver configuration of a pod in namespace: the node-local cache first
// and the cluster DNS as the fallback while a cache pod restarts, the standard search list then
// the tenant's, ndots and options.
func (s Settings) PodDNSConfig(namespace, clusterDNSIP string, cfg *platformv1alpha1.DNSConfig) *corev1.PodDNSConfig {
	searches := s.standardSearches(namespace)
	for _, extra := range cfg.Searches {
		if len(searches) == maxSearches {
			break
		}
		searches = append(searches, string(extra))
	}
	ndots := strconv.Itoa(defaultNdots)
	if cfg.Ndots != nil {
		ndots = strconv.Itoa(int(*cfg.Ndots))
	}
	opts := []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}}
	for _, o := range cfg.Options {
		opts = append(opts, corev1.PodDNSConfigOption{Name: o.Name, Value: o.Value})
	}
	return &corev1.PodDNSConfig{
		Nameservers: []string{s.NodeLocalIP, clusterDNSIP},
		Searches:    searches,
		Options:     opts,
	}
}

// Injected is the value of AnnotationInjected for a configuration.
func Injected(c *corev1.PodDNSConfig) string {
	return fmt.Sprintf("nameservers=%s", strings.Join(c.Nameservers, ","))
}

// Leave reports why a pod keeps its own DNS settings, or "" when it is to be injected.
func Leave(pod *corev1.Pod) string {
	switch {
	case pod.Annotations[AnnotationOptOut] == "disabled":
		return "opted out by annotation"
	case pod.Spec.HostNetwork:
		return "host network"
	case pod.Spec.DNSPolicy != "" && pod.Spec.DNSPolicy != corev1.DNSClusterFirst:
		return "dnsPolicy " + string(pod.Spec.DNSPolicy)
	case pod.Spec.DNSConfig != nil:
		return "own dnsConfig"
	}
	return ""
}

// The injection label's value for namespaces whose pods get the settings from the
// MutatingAdmissionPolicy selfserve-tenant-dns instead of the webhook (InjectionEnabled), and
// the namespace annotations it reads them from: the settings the webhook would inject, as lists.
const (
	InjectionPolicy          = "policy"
	AnnotationPolicyServers  = "platform.selfserve.dev/dns-nameservers"
	AnnotationPolicySearches = "platform.selfserve.dev/dns-searches"
	AnnotationPolicyOptions  = "platform.selfserve.dev/dns-options"
)

// PolicyAnnotations are the namespace annotations that give the DNS policy the pod settings c:
// nameservers and search domains comma-separated, options as name or name:value.
func PolicyAnnotations(c *corev1.PodDNSConfig) map[string]string {
	opts := make([]string, len(c.Options))
	for i, o := range c.Options {
		opts[i] = o.Name
		if o.Value != nil {
			opts[i] += ":" + *o.Value
		}
	}
	return map[string]string{
		AnnotationPolicyServers:  strings.Join(c.Nameservers, ","),
		AnnotationPolicySearches: strings.Join(c.Searches, ","),
		AnnotationPolicyOptions:  strings.Join(opts, ","),
	}
}

// ClusterDNSIP is the address of the cluster DNS Service, the pods' fallback nameserver; empty
// when the Service is missing or has none (headless): then nothing is injected.
func (s Settings) ClusterDNSIP(ctx context.Context, r client.Reader) (string, error) {
	var svc corev1.Service
	if err := r.Get(ctx, s.ClusterDNSService, &svc); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", nil
	}
	return svc.Spec.ClusterIP, nil
}
