package datadog

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestLoadSettingsPrefersTheSecretAndFillsFromTheEnvironment(t *testing.T) {
	key := types.NamespacedName{Namespace: "selfserve-system", Name: "selfserve-datadog"}
	secret := func(data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	cases := []struct {
		name   string
		secret *corev1.Secret
		env    map[string]string
		want   Settings
		ok     bool
	}{
		{name: "no Secret and no environment: not configured, default site",
			want: Settings{Site: DefaultSite}},
		{name: "Secret only",
			secret: secret(map[string]string{"api-key": "a\n", "app-key": "b", "site": "datadoghq.eu"}),
			want:   Settings{Site: "datadoghq.eu", APIKey: "a", AppKey: "b"}, ok: true},
		{name: "Secret wins over the environment",
			secret: secret(map[string]string{"api-key": "from-secret", "app-key": "b"}),
			env:    map[string]string{EnvAPIKey: "from-env", EnvSite: "us5.datadoghq.com"},
			want:   Settings{Site: "us5.datadoghq.com", APIKey: "from-secret", AppKey: "b"}, ok: true},
		{name: "environment only, with a URL override",
			env:  map[string]string{EnvAPIKey: "a", EnvAppKey: "b", EnvURL: "http://127.0.0.1:8126/"},
			want: Settings{Site: DefaultSite, URL: "http://127.0.0.1:8126/", APIKey: "a", AppKey: "b"}, ok: true},
		{name: "one key missing: not configured",
			secret: secret(map[string]string{"api-key": "a"}),
			want:   Settings{Site: DefaultSite, APIKey: "a"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			for _, env := range []string{EnvAPIKey, EnvAppKey, EnvSite, EnvURL} {
				t.Setenv(env, tt.env[env])
			}
			b := fake.NewClientBuilder()
			if tt.secret != nil {
				b = b.WithObjects(tt.secret)
			}
			got, err := LoadSettings(context.Background(), b.Build(), key)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
			if got.Configured() != tt.ok {
				t.Errorf("Configured() = %t, want %t", got.Configured(), tt.ok)
			}
		})
	}
}

func TestSettingsNeverPrintKeys(t *testing.T) {
	s := Settings{Site: DefaultSite, APIKey: "secret-api", AppKey: "secret-app"}
	if got := s.String(); got != "site=datadoghq.com url=https://api.datadoghq.com credentials=true" {
		t.Errorf("String() = %q", got)
	}
}

// TestConnectionPicksUpKeysAddedAfterStart: without keys the connection hands out no client; a
// Secret created later is read at the next load, and a client is handed out from then on.
func TestConnectionPicksUpKeysAddedAfterStart(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "selfserve-system", Name: "selfserve-datadog"}
	reader := fake.NewClientBuilder().Build()
	c := &Connection{Reader: reader, Secret: key, Pacer: NewPacer()}
	dd, s, err := c.Get(ctx)
	if err != nil || dd != nil || s.Configured() {
		t.Fatalf("no keys: client %v, settings %v, %v", dd, s, err)
	}
	if err := reader.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Data: map[string][]byte{"api-key": []byte("a"), "app-key": []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	c.loaded = c.loaded.Add(-2 * time.Minute) // a minute has passed
	dd, s, err = c.Get(ctx)
	if err != nil || dd == nil || !s.Configured() {
		t.Fatalf("keys added: client %v, settings %v, %v", dd, s, err)
	}
	if again, _, _ := c.Get(ctx); again != dd {
		t.Error("a second Get within the minute made a new client")
	}
}
