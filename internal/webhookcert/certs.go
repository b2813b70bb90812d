package webhookcert

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// Lifetimes of what the operator issues. The CA lives long so that the caBundle in the webhook
// configurations rarely changes; the serving certificate is short-lived and renewed by the same
// CA without touching the configurations.
const (
	caValidity      = 10 * 365 * 24 * time.Hour
	servingValidity = 365 * 24 * time.Hour
	// A serving certificate is renewed when less than this is left.
	servingRenewBefore = 90 * 24 * time.Hour
	// A CA is replaced when less than this is left; the old one stays in the bundle until it
	// expires, so replicas still serving a certificate it signed keep working.
	caRenewBefore = 365 * 24 * time.Hour
	// Certificates start a little in the past so that clocks a few minutes apart agree.
	backdate = 5 * time.Minute
)

// Bundle is the content of the certificate Secret, PEM-encoded.
type Bundle struct {
	// CABundle holds the current CA first, then any older CA that has not expired yet.
	CABundle []byte
	CAKey    []byte
	Cert     []byte
	Key      []byte
}

// renew returns the bundle to store at now for the given host names: b itself when it is
// still good, or one with a new serving certificate (and a new CA when the old one is close to
// expiry or unreadable). changed says whether anything was issued.
func renew(b Bundle, hosts []string, now time.Time) (out Bundle, changed bool, err error) {
	ca, caKey, err := parseCA(b)
	if err != nil || now.Add(caRenewBefore).After(ca.NotAfter) {
		ca, caKey, b.CABundle, err = newCA(b.CABundle, now)
		if err != nil {
			return Bundle{}, false, err
		}
		b.CAKey = encodeKey(caKey)
		b.Cert = nil
	}
	if servingGood(b, ca, hosts, now) {
		return b, changed, nil
	}
	b.Cert, b.Key, err = newServing(ca, caKey, hosts, now)
	return b, true, err
}

// parseCA reads the current CA (first in the bundle) and its key.
func parseCA(b Bundle) (*x509.Certificate, crypto.Signer, error) {
	certs, err := parseCerts(b.CABundle)
	if err != nil || len(certs) == 0 {
		return nil, nil, errors.New("no CA certificate")
	}
	key, err := parseKey(b.CAKey)
	if err != nil {
		return nil, nil, err
	}
	if !publicKeysEqual(certs[0].PublicKey, key.Public()) {
		return nil, nil, errors.New("the CA key does not match the CA certificate")
	}
	return certs[0], key, nil
}

// servingGood says whether the serving certificate in b is signed by ca, matches its key,
// names every host and has more than servingRenewBefore left.
func servingGood(b Bundle, ca *x509.Certificate, hosts []string, now time.Time) bool {
	certs, err := parseCerts(b.Cert)
	if err != nil || len(certs) == 0 {
		return false
	}
	cert := certs[0]
	key, err := parseKey(b.Key)
	if err != nil || !publicKeysEqual(cert.PublicKey, key.Public()) {
		return false
	}
	if cert.CheckSignatureFrom(ca) != nil || now.Add(servingRenewBefore).After(cert.NotAfter) {
		return false
	}
	var names []string
	names = append(names, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	for _, h := range hosts {
		if !slices.Contains(names, h) {
			return false
		}
	}
	return true
}

// newCA issues a CA and returns the bundle with it first, followed by the still-valid CAs of
// the previous bundle.
func newCA(previous []byte, now time.Time) (*x509.Certificate, crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("selfserve-webhook-ca@%d", now.Unix())},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	bundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	old, _ := parseCerts(previous)
	for _, c := range old {
		if now.Before(c.NotAfter) {
			bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	return ca, key, bundle, nil
}

// newServing issues a serving certificate for hosts (DNS names or IP addresses), signed by ca.
func newServing(ca *x509.Certificate, caKey crypto.Signer, hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(servingValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), encodeKey(key), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms; a fixed serial is still valid.
		return big.NewInt(1)
	}
	return n
}

func encodeKey(key crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("the private key cannot sign")
	}
	return signer, nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ka, err1 := x509.MarshalPKIXPublicKey(a)
	kb, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(ka, kb)
}
