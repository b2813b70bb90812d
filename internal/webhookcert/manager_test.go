package webhookcert_test

import (
	"context"
	"crypto/x509"
	"os"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selfserve-dev/selfserve/internal/webhookcert"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

var cp *controlplane.ControlPlane

func TestMain(m *testing.M) {
	var err error
	// The webhook configurations of config/webhook, under their generated names.
	cp, err = controlplane.Start(controlplane.Options{Webhooks: true})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	if err := cp.Stop(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

var secretName = types.NamespacedName{Namespace: "selfserve-system", Name: "selfserve-webhook-server-cert"}

func replica(c client.Client, now func() time.Time) *webhookcert.Manager {
	return &webhookcert.Manager{
		Reader: c, Client: c, Secret: secretName,
		Hosts:              append(webhookcert.ServiceHosts(types.NamespacedName{Namespace: "selfserve-system", Name: "selfserve-webhook-service"}), "127.0.0.1"),
		ValidatingWebhooks: "validating-webhook-configuration",
		MutatingWebhooks:   "mutating-webhook-configuration",
		Now:                now,
	}
}

// caBundles returns the caBundle of every webhook of both configurations, and their
// resourceVersions.
func caBundles(t *testing.T, c client.Client) (bundles []string, versions string) {
	t.Helper()
	ctx := context.Background()
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	var m admissionregistrationv1.MutatingWebhookConfiguration
	Must(t, c.Get(ctx, types.NamespacedName{Name: "validating-webhook-configuration"}, &v))
	Must(t, c.Get(ctx, types.NamespacedName{Name: "mutating-webhook-configuration"}, &m))
	for _, w := range v.Webhooks {
		bundles = append(bundles, string(w.ClientConfig.CABundle))
	}
	for _, w := range m.Webhooks {
		bundles = append(bundles, string(w.ClientConfig.CABundle))
	}
	return bundles, v.ResourceVersion + "/" + m.ResourceVersion
}

// TestReplicasShareOneCertificateAndKeepTheCABundlesInPlace runs two replicas' certificate
// managers: the first issues the certificate and injects the CA into every webhook, the second
// serves the same certificate without writing, a second round writes nothing, a caBundle wiped
// by a re-applied configuration is put back, and a certificate close to expiry is renewed once
// and picked up by both.
func TestReplicasShareOneCertificateAndKeepTheCABundlesInPlace(t *testing.T) {
	ctx := context.Background()
	c, err := cp.Client()
	Must(t, err)
	Must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "selfserve-system"}}))
	now := time.Now()
	clock := func() time.Time { return now }
	a, b := replica(c, clock), replica(c, clock)

	Must(t, a.Sync(ctx))
	var sec corev1.Secret
	Must(t, c.Get(ctx, secretName, &sec))
	if sec.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s, want %s", sec.Type, corev1.SecretTypeTLS)
	}
	bundles, versions := caBundles(t, c)
	for i, got := range bundles {
		if got != string(sec.Data["ca.crt"]) {
			t.Errorf("webhook %d has another caBundle than the Secret's CA", i)
		}
	}

	// The second replica serves what the first issued; nothing is written by either.
	Must(t, b.Sync(ctx))
	Must(t, a.Sync(ctx))
	var again corev1.Secret
	Must(t, c.Get(ctx, secretName, &again))
	if _, v := caBundles(t, c); again.ResourceVersion != sec.ResourceVersion || v != versions {
		t.Error("a sync with everything in place wrote to the Secret or a webhook configuration")
	}
	certA, err := a.GetCertificate(nil)
	Must(t, err)
	certB, err := b.GetCertificate(nil)
	Must(t, err)
	if string(certA.Certificate[0]) != string(certB.Certificate[0]) {
		t.Error("the replicas serve different certificates")
	}
	leaf, err := x509.ParseCertificate(certA.Certificate[0])
	Must(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(sec.Data["ca.crt"])
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "selfserve-webhook-service.selfserve-system.svc", Roots: pool}); err != nil {
		t.Errorf("the served certificate is not trusted through the caBundle for the Service: %v", err)
	}

	// A configuration re-applied without caBundle gets it back.
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	Must(t, c.Get(ctx, types.NamespacedName{Name: "validating-webhook-configuration"}, &v))
	for i := range v.Webhooks {
		v.Webhooks[i].ClientConfig.CABundle = nil
	}
	Must(t, c.Update(ctx, &v))
	Must(t, b.Sync(ctx))
	bundles, _ = caBundles(t, c)
	for i, got := range bundles {
		if got != string(sec.Data["ca.crt"]) {
			t.Errorf("webhook %d: the wiped caBundle was not restored", i)
		}
	}

	// 300 days on, the serving certificate is renewed by one replica, with the same CA, and the
	// other takes it over.
	now = now.Add(300 * 24 * time.Hour)
	Must(t, a.Sync(ctx))
	var renewed corev1.Secret
	Must(t, c.Get(ctx, secretName, &renewed))
	if string(renewed.Data["tls.crt"]) == string(sec.Data["tls.crt"]) {
		t.Fatal("the serving certificate was not renewed")
	}
	if string(renewed.Data["ca.crt"]) != string(sec.Data["ca.crt"]) {
		t.Error("renewing the serving certificate changed the CA")
	}
	Must(t, b.Sync(ctx))
	var after corev1.Secret
	Must(t, c.Get(ctx, secretName, &after))
	if after.ResourceVersion != renewed.ResourceVersion {
		t.Error("the second replica renewed again")
	}
	certB, err = b.GetCertificate(nil)
	Must(t, err)
	if string(certB.Certificate[0]) == string(certA.Certificate[0]) {
		t.Error("the second replica still serves the old certificate")
	}
}
