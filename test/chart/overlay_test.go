package chart

import (
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestCertManagerOverlayHandsTheCertificateToCertManager renders config/overlays/cert-manager:
// the manager issues no certificate and reads cert-manager's Secret from a mounted folder, the
// Certificate names the webhook Service, and cert-manager injects the CA into both webhook
// configurations.
func TestCertManagerOverlayHandsTheCertificateToCertManager(t *testing.T) {
	objs := kustomize(t, filepath.Join("overlays", "cert-manager"))

	dep := objs["Deployment selfserve-system/selfserve-controller-manager"]
	if dep == nil {
		t.Fatal("no Deployment")
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	for _, want := range []string{"--webhook-cert-secret=", "--webhook-cert-dir=/etc/selfserve/webhook-certs"} {
		if !slices.Contains(args, want) {
			t.Errorf("the manager's args lack %s", want)
		}
	}
	volumes, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
	mounted := false
	for _, v := range volumes {
		if name, _, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName"); name == "selfserve-webhook-server-cert" {
			mounted = true
		}
	}
	if !mounted {
		t.Error("cert-manager's Secret is not mounted")
	}

	cert := objs["Certificate selfserve-system/selfserve-serving-cert"]
	if cert == nil {
		t.Fatal("no Certificate")
	}
	dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if !slices.Contains(dns, "selfserve-webhook-service.selfserve-system.svc") {
		t.Errorf("the Certificate's names %v lack the webhook Service", dns)
	}
	if secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName"); secret != "selfserve-webhook-server-cert" {
		t.Errorf("the Certificate writes %q, the Deployment mounts selfserve-webhook-server-cert", secret)
	}
	for _, key := range []string{"ValidatingWebhookConfiguration /selfserve-validating-webhook-configuration", "MutatingWebhookConfiguration /selfserve-mutating-webhook-configuration"} {
		obj := objs[key]
		if obj == nil {
			t.Errorf("no %s", key)
			continue
		}
		if got := obj.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != "selfserve-system/selfserve-serving-cert" {
			t.Errorf("%s: inject-ca-from %q", key, got)
		}
	}
}
