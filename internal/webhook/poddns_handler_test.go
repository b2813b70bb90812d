package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	ssewebhook "github.com/selfserve-dev/selfserve/internal/webhook"
)

// BenchmarkPodDNS measures the operator's side of one pod admission: the AdmissionReview as
// kube-apiserver sends it (a Deployment's pod of a few KiB), decoded, answered and encoded by
// the webhook server's handler, with the tenant, its class and the DNS Service in the reader
// (the operator's cache in production).
//
//	go test ./internal/webhook -run '^$' -bench PodDNS -benchmem
func BenchmarkPodDNS(b *testing.B) {
	dns := nodelocaldns.DefaultSettings()
	reader := cacheLike{}
	reader.add(
		&platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: "shop"},
			Spec: platformv1alpha1.TenantNamespaceSpec{Team: "shop", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "shop"}},
				DNS: &platformv1alpha1.DNSConfig{NodeLocalCache: platformv1alpha1.NodeLocalCacheEnabled, Ndots: ptr.To[int32](2)}},
			Status: platformv1alpha1.TenantNamespaceStatus{Class: "standard", Conditions: readyConditions()},
		},
		&platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Spec: platformv1alpha1.TenantClassSpec{IsDefault: true}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: dns.ClusterDNSService.Name, Namespace: dns.ClusterDNSService.Namespace},
			Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.10"}},
	)
	hook := &ssewebhook.PodDNS{Reader: reader, DNS: dns}
	body := admissionReview(b, deploymentPod())

	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, ssewebhook.PodDNSPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		hook.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"patchType":"JSONPatch"`)) {
			b.Fatalf("not patched: %d %s", rec.Code, rec.Body.String())
		}
	}
}

// cacheLike answers Get as the manager's cache does: a deep copy of the object it holds.
type cacheLike map[client.ObjectKey]client.Object

func (c cacheLike) add(objs ...client.Object) {
	for _, o := range objs {
		c[client.ObjectKeyFromObject(o)] = o
	}
}

func (c cacheLike) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	held, ok := c[key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
	}
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(held.DeepCopyObject()).Elem())
	return nil
}

func (c cacheLike) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("the Pod DNS webhook lists nothing")
}

// readyConditions are the conditions a Ready tenant carries.
func readyConditions() []metav1.Condition {
	var out []metav1.Condition
	for _, typ := range []string{platformv1alpha1.ConditionNamespaceReady, platformv1alpha1.ConditionRBACReady, platformv1alpha1.ConditionQuotaReady,
		platformv1alpha1.ConditionLimitsReady, platformv1alpha1.ConditionNetworkReady, platformv1alpha1.ConditionDNSReady,
		platformv1alpha1.ConditionWithinClass, platformv1alpha1.ConditionReady} {
		out = append(out, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: "Provisioned", Message: typ + " is in place",
			LastTransitionTime: metav1.Now()})
	}
	return out
}

// deploymentPod is a pod as a ReplicaSet creates it: two containers with probes, environment
// and mounts.
func deploymentPod() *corev1.Pod {
	container := func(name string) corev1.Container {
		return corev1.Container{
			Name: name, Image: "europe-docker.pkg.dev/shop/images/" + name + ":1.42.0",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			Env: []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "DD_AGENT_HOST", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}},
			LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/live", Port: intstr.FromString("http")}}},
			VolumeMounts:   []corev1.VolumeMount{{Name: "config", MountPath: "/etc/" + name}},
		}
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "checkout-7d9f8c6b5-", Namespace: "shop",
			Labels:      map[string]string{"app": "checkout", "pod-template-hash": "7d9f8c6b5"},
			Annotations: map[string]string{"ad.datadoghq.com/checkout.logs": `[{"source":"go"}]`},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "checkout-7d9f8c6b5",
				UID: "5b1f0c1e-2f43-4a8e-9a57-3d1f1b7e9c2a", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: corev1.PodSpec{
			Containers:         []corev1.Container{container("checkout"), container("sidecar")},
			Volumes:            []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout"}}}}},
			ServiceAccountName: "checkout", TerminationGracePeriodSeconds: ptr.To[int64](30),
		},
	}
}

// admissionReview is the request body kube-apiserver sends for the pod's creation.
func admissionReview(b *testing.B, pod *corev1.Pod) []byte {
	raw, err := json.Marshal(pod)
	if err != nil {
		b.Fatal(err)
	}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("0f3c2a1e-8d4b-4c7a-9e2f-1a2b3c4d5e6f"), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: "shop", Operation: admissionv1.Create,
			Object: runtime.RawExtension{Raw: raw},
		},
	}
	data, err := json.Marshal(review)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// TestPodDNSRefusesWhatIsNotAReview: the handler reads the review itself, so it also answers
// what is not one, with the reason, as controller-runtime's webhook server would.
func TestPodDNSRefusesWhatIsNotAReview(t *testing.T) {
	hook := &ssewebhook.PodDNS{Reader: cacheLike{}, DNS: nodelocaldns.DefaultSettings()}
	for name, tc := range map[string]struct {
		body, contentType, want string
	}{
		"not JSON":          {`{"request":`, "application/json", "unexpected end of JSON input"},
		"no request":        {`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, "application/json", "has no request"},
		"wrong type":        {`{}`, "text/plain", `content type "text/plain"`},
		"no tenant (allow)": {`{"request":{"uid":"u1","namespace":"nowhere","object":{"spec":{}}}}`, "application/json", "no tenant for this namespace"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, ssewebhook.PodDNSPath, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			hook.ServeHTTP(rec, req)
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
				t.Fatalf("not a review: %v %s", err, rec.Body.String())
			}
			res := review.Response
			if res.Result == nil || !strings.Contains(res.Result.Message, tc.want) {
				t.Errorf("result %+v, want a message with %q", res.Result, tc.want)
			}
			if allowed := strings.HasSuffix(name, "(allow)"); res.Allowed != allowed || res.Patch != nil {
				t.Errorf("allowed %v with patch %s, want allowed %v without a patch", res.Allowed, res.Patch, allowed)
			}
			if want := map[bool]string{true: "u1"}[strings.HasSuffix(name, "(allow)")]; string(res.UID) != want {
				t.Errorf("answered for request %q, want %q", res.UID, want)
			}
			if review.Kind != "AdmissionReview" || review.APIVersion != "admission.k8s.io/v1" {
				t.Errorf("answered as %s %s", review.APIVersion, review.Kind)
			}
		})
	}
}
