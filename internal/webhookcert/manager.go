package webhookcert

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// The Secret (get, create, update) and the two webhook configurations (get, patch) are the
// only objects of those kinds the operator touches; the names are those of config/default.
// +kubebuilder:rbac:groups="",namespace=selfserve-system,resources=secrets,verbs=create
// +kubebuilder:rbac:groups="",namespace=selfserve-system,resources=secrets,resourceNames=selfserve-webhook-server-cert,verbs=get;update
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=selfserve-validating-webhook-configuration,verbs=get;patch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,resourceNames=selfserve-mutating-webhook-configuration,verbs=get;patch

// Secret keys. tls.crt and tls.key are those of a kubernetes.io/tls Secret; ca.crt is what
// cert-manager writes too.
const (
	keyCABundle = "ca.crt"
	keyCAKey    = "ca.key"
)

// checkEvery is how often the Secret and the caBundles are checked: a rotation by another
// replica, or a webhook configuration re-created without its caBundle, is repaired this fast.
const checkEvery = time.Minute

// Manager keeps the certificate. It runs on every replica (not only the leader), because
// every replica serves webhooks.
type Manager struct {
	// Reader reads uncached (the Secret and the configurations are not watched); Client writes.
	Reader client.Reader
	Client client.Client
	// Secret holds the CA and the serving certificate.
	Secret types.NamespacedName
	// Hosts are the names the serving certificate is valid for: the webhook Service's DNS
	// names, plus any extra name or IP address.
	Hosts []string
	// ValidatingWebhooks and MutatingWebhooks name the configurations whose caBundle is
	// injected; empty names are skipped.
	ValidatingWebhooks string
	MutatingWebhooks   string
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu   sync.RWMutex
	cert *tls.Certificate
	raw  []byte
}

// ServiceHosts are the DNS names a Service is reached by from the apiserver.
func ServiceHosts(svc types.NamespacedName) []string {
	return []string{
		svc.Name + "." + svc.Namespace + ".svc",
		svc.Name + "." + svc.Namespace + ".svc.cluster.local",
	}
}

// NeedLeaderElection is false: every replica needs the certificate to serve.
func (m *Manager) NeedLeaderElection() bool { return false }

// Start keeps the certificate and the caBundles in place until ctx ends. Errors are logged
// and retried; until a certificate is loaded, the webhook server refuses TLS handshakes and
// the replica is not ready.
func (m *Manager) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("webhook-cert")
	ctx = ctrl.LoggerInto(ctx, log)
	// Retried every few seconds until it first succeeds (the Secret or a configuration may be
	// applied after the operator starts), then checked every minute.
	retry := 5 * time.Second
	for {
		next := checkEvery
		if err := m.Sync(ctx); err != nil {
			log.Error(err, "Cannot keep the webhook certificate", "secret", m.Secret)
			next = retry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait.Jitter(next, 0.1)):
		}
	}
}

// Sync makes sure the Secret holds a good certificate for Hosts, loads it, and injects the CA
// into the webhook configurations. Nothing is written when all is in place.
func (m *Manager) Sync(ctx context.Context) error {
	b, err := m.ensureSecret(ctx)
	if err != nil {
		return err
	}
	if err := m.load(b); err != nil {
		return err
	}
	var errs []error
	if m.ValidatingWebhooks != "" {
		errs = append(errs, m.inject(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{}, m.ValidatingWebhooks, b.CABundle))
	}
	if m.MutatingWebhooks != "" {
		errs = append(errs, m.inject(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{}, m.MutatingWebhooks, b.CABundle))
	}
	return errors.Join(errs...)
}

// ensureSecret reads the Secret, and creates or renews it when the certificate is missing,
// expiring or does not cover Hosts. Replicas that race get a conflict (or AlreadyExists),
// and take the winner's certificate on the next read.
func (m *Manager) ensureSecret(ctx context.Context) (Bundle, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	var sec corev1.Secret
	err := m.Reader.Get(ctx, m.Secret, &sec)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return Bundle{}, fmt.Errorf("reading Secret %s: %w", m.Secret, err)
	}
	current := Bundle{CABundle: sec.Data[keyCABundle], CAKey: sec.Data[keyCAKey], Cert: sec.Data[corev1.TLSCertKey], Key: sec.Data[corev1.TLSPrivateKeyKey]}
	b, changed, err := renew(current, m.Hosts, now())
	if err != nil {
		return Bundle{}, fmt.Errorf("issuing the webhook certificate: %w", err)
	}
	if !changed {
		return b, nil
	}
	sec.Data = map[string][]byte{keyCABundle: b.CABundle, keyCAKey: b.CAKey, corev1.TLSCertKey: b.Cert, corev1.TLSPrivateKeyKey: b.Key}
	log := ctrl.LoggerFrom(ctx)
	if !exists {
		sec.ObjectMeta = metav1.ObjectMeta{
			Name: m.Secret.Name, Namespace: m.Secret.Namespace,
			Labels: map[string]string{platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue},
		}
		sec.Type = corev1.SecretTypeTLS
		if err := m.Client.Create(ctx, &sec); err != nil {
			return Bundle{}, fmt.Errorf("creating Secret %s: %w", m.Secret, err)
		}
		log.Info("Issued the webhook certificate", "secret", klog.KObj(&sec), "hosts", m.Hosts)
		return b, nil
	}
	// Update carries the resourceVersion read above: a replica that renewed first wins.
	if err := m.Client.Update(ctx, &sec); err != nil {
		return Bundle{}, fmt.Errorf("renewing the certificate in Secret %s: %w", m.Secret, err)
	}
	log.Info("Renewed the webhook certificate", "secret", klog.KObj(&sec), "hosts", m.Hosts)
	return b, nil
}

// load makes b's serving certificate the one handed out in TLS handshakes.
func (m *Manager) load(b Bundle) error {
	m.mu.RLock()
	same := m.cert != nil && string(m.raw) == string(b.Cert)+string(b.Key)
	m.mu.RUnlock()
	if same {
		return nil
	}
	cert, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		return fmt.Errorf("loading the webhook certificate: %w", err)
	}
	m.mu.Lock()
	m.cert, m.raw = &cert, append(append([]byte{}, b.Cert...), b.Key...)
	m.mu.Unlock()
	return nil
}

// inject patches caBundle into every webhook of a configuration where it differs. The patch
// names only caBundle, so whoever applies the configuration (kubectl, Helm, Argo CD) keeps
// owning everything else.
func (m *Manager) inject(ctx context.Context, obj client.Object, name string, caBundle []byte) error {
	if err := m.Reader.Get(ctx, types.NamespacedName{Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			// Not installed (yet); the next check retries.
			return fmt.Errorf("webhook configuration %s not found", name)
		}
		return err
	}
	type clientConfig struct {
		CABundle []byte `json:"caBundle"`
	}
	type entry struct {
		Name         string       `json:"name"`
		ClientConfig clientConfig `json:"clientConfig"`
	}
	var stale []entry
	add := func(webhookName string, have []byte) {
		if string(have) != string(caBundle) {
			stale = append(stale, entry{Name: webhookName, ClientConfig: clientConfig{CABundle: caBundle}})
		}
	}
	switch c := obj.(type) {
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for _, w := range c.Webhooks {
			add(w.Name, w.ClientConfig.CABundle)
		}
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		for _, w := range c.Webhooks {
			add(w.Name, w.ClientConfig.CABundle)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"webhooks": stale})
	if err != nil {
		return err
	}
	// A strategic merge patch merges webhooks by name.
	if err := m.Client.Patch(ctx, obj, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil {
		return fmt.Errorf("injecting the CA into %s: %w", name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Injected the webhook CA", "configuration", name, "webhooks", len(stale))
	return nil
}

// GetCertificate hands the current serving certificate to the webhook server's TLS handshakes.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.cert == nil {
		return nil, errors.New("the webhook certificate is not loaded yet")
	}
	return m.cert, nil
}

// Loaded is a readiness check: a replica without a certificate cannot answer admission requests.
func (m *Manager) Loaded(*http.Request) error {
	_, err := m.GetCertificate(nil)
	return err
}
