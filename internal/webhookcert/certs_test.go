package webhookcert

import (
	"crypto/x509"
	"testing"
	"time"
)

var hosts = []string{"selfserve-webhook-service.selfserve-system.svc", "127.0.0.1"}

// verify checks that b's serving certificate is trusted through b's CA bundle for host at t.
func verify(t *testing.T, b Bundle, host string, at time.Time) error {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.CABundle) {
		t.Fatal("the CA bundle holds no certificate")
	}
	certs, err := parseCerts(b.Cert)
	if err != nil || len(certs) != 1 {
		t.Fatalf("serving certificate: %v (%d)", err, len(certs))
	}
	_, err = certs[0].Verify(x509.VerifyOptions{DNSName: host, Roots: pool, CurrentTime: at})
	return err
}

func TestRenewIssuesACAAndAServingCertificateTheCATrusts(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	b, changed, err := renew(Bundle{}, hosts, now)
	if err != nil || !changed {
		t.Fatalf("renew of nothing: changed=%t err=%v", changed, err)
	}
	for _, h := range hosts {
		if err := verify(t, b, h, now); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	if err := verify(t, b, "other.example", now); err == nil {
		t.Error("the certificate is valid for a host it was not issued for")
	}
}

func TestRenewKeepsAGoodCertificate(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	b, _, _ := renew(Bundle{}, hosts, now)
	again, changed, err := renew(b, hosts, now.Add(200*24*time.Hour))
	if err != nil || changed {
		t.Fatalf("renew of a good certificate 200 days on: changed=%t err=%v", changed, err)
	}
	if string(again.Cert) != string(b.Cert) || string(again.CABundle) != string(b.CABundle) {
		t.Error("a good certificate was replaced")
	}
	// A subset of the hosts is still covered.
	if _, changed, _ := renew(b, hosts[:1], now); changed {
		t.Error("the certificate was renewed for a host it already covers")
	}
}

func TestRenewReissuesTheServingCertificateWithTheSameCA(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	b, _, _ := renew(Bundle{}, hosts, now)
	cases := map[string]struct {
		in    Bundle
		hosts []string
		at    time.Time
	}{
		"less than 90 days left": {in: b, hosts: hosts, at: now.Add(300 * 24 * time.Hour)},
		"a new host":             {in: b, hosts: append([]string{"extra.example"}, hosts...), at: now},
		"key of another certificate": {
			in:    func() Bundle { o, _, _ := renew(Bundle{}, hosts, now); c := b; c.Key = o.Key; return c }(),
			hosts: hosts, at: now,
		},
		"no serving certificate": {in: Bundle{CABundle: b.CABundle, CAKey: b.CAKey}, hosts: hosts, at: now},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, changed, err := renew(tc.in, tc.hosts, tc.at)
			if err != nil || !changed {
				t.Fatalf("changed=%t err=%v", changed, err)
			}
			if string(out.CABundle) != string(b.CABundle) {
				t.Error("the CA changed, so every caBundle would have to change")
			}
			for _, h := range tc.hosts {
				if err := verify(t, out, h, tc.at); err != nil {
					t.Errorf("%s: %v", h, err)
				}
			}
		})
	}
}

func TestRenewReplacesACAInItsLastYearAndKeepsTrustingTheOldOne(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	b, _, _ := renew(Bundle{}, hosts, now)
	later := now.Add(9*365*24*time.Hour + 24*time.Hour)
	out, changed, err := renew(b, hosts, later)
	if err != nil || !changed {
		t.Fatalf("changed=%t err=%v", changed, err)
	}
	cas, _ := parseCerts(out.CABundle)
	old, _ := parseCerts(b.CABundle)
	if len(cas) != 2 || !cas[1].Equal(old[0]) {
		t.Fatalf("want the new CA followed by the old one, got %d certificates", len(cas))
	}
	if err := verify(t, out, hosts[0], later); err != nil {
		t.Errorf("new certificate: %v", err)
	}
	// A replica that still serves the certificate the old CA signed is trusted through the
	// new bundle until it loads the new one.
	oldCA, oldKey, err := parseCA(b)
	if err != nil {
		t.Fatal(err)
	}
	oldServing, _, err := newServing(oldCA, oldKey, hosts, later.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	stale := Bundle{CABundle: out.CABundle, Cert: oldServing}
	if err := verify(t, stale, hosts[0], later); err != nil {
		t.Errorf("old certificate through the new bundle: %v", err)
	}
}

func TestRenewReplacesAnUnreadableCA(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	out, changed, err := renew(Bundle{CABundle: []byte("garbage"), CAKey: []byte("garbage")}, hosts, now)
	if err != nil || !changed {
		t.Fatalf("changed=%t err=%v", changed, err)
	}
	if err := verify(t, out, hosts[0], now); err != nil {
		t.Error(err)
	}
}
