package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"gomodules.xyz/jsonpatch/v2"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// maxReview bounds the AdmissionReview read, as controller-runtime's webhook server does.
const maxReview = 7 << 20

// podReview is the part of kube-apiserver's AdmissionReview (admission.k8s.io/v1) the webhook
// reads.
type podReview struct {
	Request *struct {
		UID       types.UID `json:"uid"`
		Namespace string    `json:"namespace"`
		Object    podFields `json:"object"`
	} `json:"request"`
}

// ServeHTTP answers one pod creation. It reads the AdmissionReview in one pass into the few
// fields it needs (controller-runtime's admission.Webhook decodes the whole review, with the
// pod in it, three times; that was most of the webhook's time) and writes a v1 review back.
// The server's metrics wrap it like any webhook.
func (h *PodDNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer r.Body.Close()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
	var review podReview
	switch {
	case err != nil:
	case len(body) > maxReview:
		err = fmt.Errorf("the AdmissionReview is larger than %d bytes", maxReview)
	case r.Header.Get("Content-Type") != "application/json":
		err = fmt.Errorf("content type %q, want application/json", r.Header.Get("Content-Type"))
	default:
		if err = json.Unmarshal(body, &review); err == nil && review.Request == nil {
			err = errors.New("the AdmissionReview has no request")
		}
	}
	res := &admissionv1.AdmissionResponse{Allowed: true}
	if err != nil {
		res = &admissionv1.AdmissionResponse{Result: &metav1.Status{Code: http.StatusBadRequest, Message: err.Error()}}
	} else {
		res.UID = review.Request.UID
		patch, why := h.answer(r.Context(), review.Request.Namespace, review.Request.Object.pod())
		if patch != nil {
			res.Patch, res.PatchType = patch, ptr.To(admissionv1.PatchTypeJSONPatch)
		} else {
			res.Result = &metav1.Status{Code: http.StatusOK, Message: why}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: res,
	})
}

// answer returns the JSON patch that points a new pod of the namespace at the node-local
// cache, or nil and why the pod is left alone.
func (h *PodDNS) answer(ctx context.Context, namespace string, pod *corev1.Pod) (patch []byte, why string) {
	if why := nodelocaldns.Leave(pod); why != "" {
		return nil, "left alone: " + why
	}
	var tenant platformv1alpha1.TenantNamespace
	if err := h.Reader.Get(ctx, client.ObjectKey{Name: namespace}, &tenant); err != nil {
		return nil, "no tenant for this namespace"
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
		return nil, "NodeLocal DNSCache is disabled for this tenant"
	}
	ip, err := h.DNS.ClusterDNSIP(ctx, h.Reader)
	if err != nil || ip == "" {
		// Without the fallback address the pod would depend on the cache alone.
		return nil, "cluster DNS Service not found; left alone"
	}

	dnsConfig := h.DNS.PodDNSConfig(namespace, ip, cfg)
	// The three changes as a JSON patch written directly: marshalling the whole pod and diffing
	// it against the request cost more than everything else the webhook does. ("add" replaces a
	// member that exists.)
	ops := []jsonpatch.JsonPatchOperation{
		{Operation: "add", Path: "/spec/dnsPolicy", Value: corev1.DNSNone},
		{Operation: "add", Path: "/spec/dnsConfig", Value: dnsConfig},
	}
	injected := nodelocaldns.Injected(dnsConfig)
	if pod.Annotations == nil {
		ops = append(ops, jsonpatch.JsonPatchOperation{Operation: "add", Path: "/metadata/annotations", Value: map[string]string{nodelocaldns.AnnotationInjected: injected}})
	} else {
		ops = append(ops, jsonpatch.JsonPatchOperation{Operation: "add", Path: "/metadata/annotations/" + pointerEscape(nodelocaldns.AnnotationInjected), Value: injected})
	}
	patch, err = json.Marshal(ops)
	if err != nil {
		return nil, "building the patch: " + err.Error()
	}
	return patch, ""
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
