package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"gomodules.xyz/jsonpatch/v2"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
)

// The webhook is reached only from namespaces the tenant controller labelled for injection,
// so other namespaces never pay for it. failurePolicy Ignore: while the operator is down, pods
// are still created, with the cluster's default DNS, which always works.
//
// +kubebuilder:webhook:path=/mutate-v1-pod-dns,mutating=true,failurePolicy=ignore,sideEffects=None,groups="",resources=pods,verbs=create,versions=v1,name=mpoddns.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=2,reinvocationPolicy=Never,patch=`{"namespaceSelector":{"matchLabels":{"platform.selfserve.dev/dns-injection":"enabled"}}}`

// PodDNSPath is where the Pod DNS webhook is served.
const PodDNSPath = "/mutate-v1-pod-dns"

// PodDNS points new pods of tenants that enable NodeLocal DNSCache at the node-local cache,
// with the cluster DNS as a second nameserver. Pods that bring their own DNS settings, run on
// the host network, or opt out by annotation are left alone.
type PodDNS struct {
	// Reader reads tenants, classes and the cluster DNS Service from the cache.
	Reader client.Reader
	DNS    nodelocaldns.Settings
}

// Handle answers one pod creation.
func (h *PodDNS) Handle(ctx context.Context, req admission.Request) admission.Response {
	var fields podFields
	if err := json.Unmarshal(req.Object.Raw, &fields); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	pod := fields.pod()
	if why := nodelocaldns.Leave(pod); why != "" {
		return admission.Allowed("left alone: " + why)
	}
	var tenant platformv1alpha1.TenantNamespace
	if err := h.Reader.Get(ctx, client.ObjectKey{Name: req.Namespace}, &tenant); err != nil {
		return admission.Allowed("no tenant for this namespace")
	}
	var class *platformv1alpha1.TenantClass
	if tenant.Status.Class != "" {
		var tc platformv1alpha1.TenantClass
		if err := h.Reader.Get(ctx, client.ObjectKey{Name: tenant.Status.Class}, &tc); err == nil {
			class = &tc
		}
	}
	cfg := nodelocaldns.Effective(&tenant, class)
	if !nodelocaldns.Enabled(cfg) {
		return admission.Allowed("NodeLocal DNSCache is disabled for this tenant")
	}
	var svc corev1.Service
	if err := h.Reader.Get(ctx, h.DNS.ClusterDNSService, &svc); err != nil || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		// Without the fallback address the pod would depend on the cache alone.
		return admission.Allowed("cluster DNS Service not found; left alone")
	}

	dnsConfig := h.DNS.PodDNSConfig(req.Namespace, svc.Spec.ClusterIP, cfg)
	// The three changes as a JSON patch written directly: marshalling the whole pod and diffing
	// it against the request cost more than everything else the webhook does. ("add" replaces a
	// member that exists.)
	patch := []jsonpatch.JsonPatchOperation{
		{Operation: "add", Path: "/spec/dnsPolicy", Value: corev1.DNSNone},
		{Operation: "add", Path: "/spec/dnsConfig", Value: dnsConfig},
	}
	injected := nodelocaldns.Injected(dnsConfig)
	if pod.Annotations == nil {
		patch = append(patch, jsonpatch.JsonPatchOperation{Operation: "add", Path: "/metadata/annotations", Value: map[string]string{nodelocaldns.AnnotationInjected: injected}})
	} else {
		patch = append(patch, jsonpatch.JsonPatchOperation{Operation: "add", Path: "/metadata/annotations/" + pointerEscape(nodelocaldns.AnnotationInjected), Value: injected})
	}
	return admission.Patched("", patch...)
}

// podFields are the parts of a pod the webhook reads. Decoding only them skips the rest of the
// pod (containers, volumes), which was half of the webhook's time.
type podFields struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		HostNetwork bool                 `json:"hostNetwork"`
		DNSPolicy   corev1.DNSPolicy     `json:"dnsPolicy"`
		DNSConfig   *corev1.PodDNSConfig `json:"dnsConfig"`
	} `json:"spec"`
}

// pod returns a pod holding only the decoded fields, for nodelocaldns.Leave.
func (f *podFields) pod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: f.Metadata.Annotations},
		Spec:       corev1.PodSpec{HostNetwork: f.Spec.HostNetwork, DNSPolicy: f.Spec.DNSPolicy, DNSConfig: f.Spec.DNSConfig},
	}
}

// pointerEscape escapes a key for a JSON pointer (RFC 6901): ~ as ~0, / as ~1.
func pointerEscape(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}
