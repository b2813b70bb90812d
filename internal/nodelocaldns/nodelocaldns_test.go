package nodelocaldns

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestPodDNSConfig(t *testing.T) {
	s := DefaultSettings()
	cases := []struct {
		name string
		cfg  platformv1alpha1.DNSConfig
		want *corev1.PodDNSConfig
	}{
		{name: "defaults: cache first, cluster DNS as fallback, standard search list, ndots 5",
			cfg: platformv1alpha1.DNSConfig{NodeLocalCache: platformv1alpha1.NodeLocalCacheEnabled},
			want: &corev1.PodDNSConfig{
				Nameservers: []string{"169.254.20.10", "10.0.0.10"},
				Searches:    []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"},
				Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("5")}},
			}},
		{name: "tenant ndots, searches and options",
			cfg: platformv1alpha1.DNSConfig{
				NodeLocalCache: platformv1alpha1.NodeLocalCacheEnabled, Ndots: ptr.To[int32](2),
				Searches: []platformv1alpha1.DNSSearchDomain{"corp.example.com"},
				Options:  []platformv1alpha1.DNSOption{{Name: "timeout", Value: ptr.To("2")}, {Name: "single-request-reopen"}},
			},
			want: &corev1.PodDNSConfig{
				Nameservers: []string{"169.254.20.10", "10.0.0.10"},
				Searches:    []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example.com"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "timeout", Value: ptr.To("2")},
					{Name: "single-request-reopen"}},
			}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := s.PodDNSConfig("shop", "10.0.0.10", &tt.cfg)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearchListStaysWithinTheKubernetesLimit(t *testing.T) {
	cfg := platformv1alpha1.DNSConfig{NodeLocalCache: platformv1alpha1.NodeLocalCacheEnabled}
	for range 40 {
		cfg.Searches = append(cfg.Searches, "d.example.com")
	}
	if got := len(DefaultSettings().PodDNSConfig("ns", "10.0.0.10", &cfg).Searches); got != 32 {
		t.Errorf("%d search domains, want at most 32", got)
	}
}

func TestLeave(t *testing.T) {
	cases := map[string]struct {
		pod  corev1.Pod
		want string
	}{
		"ClusterFirst pod is injected":   {pod: corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}}},
		"defaulted policy is injected":   {pod: corev1.Pod{}},
		"host network":                   {pod: corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, DNSPolicy: corev1.DNSClusterFirstWithHostNet}}, want: "host network"},
		"ClusterFirstWithHostNet":        {pod: corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet}}, want: "dnsPolicy ClusterFirstWithHostNet"},
		"own policy":                     {pod: corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}}, want: "dnsPolicy Default"},
		"own dnsConfig":                  {pod: corev1.Pod{Spec: corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{}}}, want: "own dnsConfig"},
		"opt-out annotation":             {pod: podWithAnnotation(AnnotationOptOut, "disabled"), want: "opted out by annotation"},
		"other annotation value injects": {pod: podWithAnnotation(AnnotationOptOut, "enabled")},
	}
	for name, tt := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Leave(&tt.pod); got != tt.want {
				t.Errorf("Leave = %q, want %q", got, tt.want)
			}
		})
	}
}

func podWithAnnotation(k, v string) corev1.Pod {
	p := corev1.Pod{}
	p.Annotations = map[string]string{k: v}
	return p
}

// TestSearchListTooLong: the limit is the apiserver's on the whole list a pod gets, the
// standard domains of its namespace included, so it depends on the namespace's name.
func TestSearchListTooLong(t *testing.T) {
	s := DefaultSettings()
	domains := func(n, size int) *platformv1alpha1.DNSConfig {
		cfg := &platformv1alpha1.DNSConfig{}
		for range n {
			cfg.Searches = append(cfg.Searches, platformv1alpha1.DNSSearchDomain(strings.Repeat("d", size)))
		}
		return cfg
	}
	standard := len("shop.svc.cluster.local svc.cluster.local cluster.local")
	// Each extra domain adds its length and a space.
	fits := (2048 - standard) / 64
	if msg := s.SearchListTooLong("shop", domains(fits, 63)); msg != "" {
		t.Errorf("%d domains of 63 characters: %s", fits, msg)
	}
	if msg := s.SearchListTooLong("shop", domains(fits+1, 63)); !strings.Contains(msg, "at most 2048") {
		t.Errorf("%d domains of 63 characters: %q, want too long", fits+1, msg)
	}
	if msg := s.SearchListTooLong("shop", nil); msg != "" {
		t.Errorf("no DNS settings: %q", msg)
	}
}
