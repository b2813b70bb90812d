package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/webhook"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

func ingress(namespace, name string, hosts ...string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	for _, h := range hosts {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: h, IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: backend}}},
		}})
	}
	return ing
}

func httpRoute(namespace, name string, hostnames ...string) *unstructured.Unstructured {
	r := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"namespace": namespace, "name": name},
		"spec":     map[string]any{"parentRefs": []any{map[string]any{"name": "shared", "namespace": "gateways"}}},
	}}
	if len(hostnames) > 0 {
		names := make([]any, len(hostnames))
		for i, h := range hostnames {
			names[i] = h
		}
		r.Object["spec"].(map[string]any)["hostnames"] = names
	}
	return r
}

// TestIngressAndRouteHosts: team pay owns pay.example.com and *.pay.example.com, team search
// owns *.search.example.com; both were given shop.example.com and race.example.com. Each
// subtest is something mallory of search tried, as the issue reproduced it, and what an honest
// developer still may do.
func TestIngressAndRouteHosts(t *testing.T) {
	ctx := context.Background()
	Must(t, k8sClient.Create(ctx, guardedClassNamed("hosts")))
	pay := Team("hosts-pay", "hosts")
	pay.Spec.Hosts = []string{"pay.example.com", "*.pay.example.com", "shop.example.com", "race.example.com", "twin.example.com"}
	search := Team("hosts-search", "hosts")
	search.Spec.Hosts = []string{"*.search.example.com", "shop.example.com", "race.example.com", "twin.example.com"}
	Must(t, k8sClient.Create(ctx, pay))
	Eventually(t, 10*time.Second, "the cache holds the class and team pay", func() bool {
		return cached.Get(ctx, client.ObjectKey{Name: "hosts"}, &platformv1alpha1.TenantClass{}) == nil &&
			cached.Get(ctx, client.ObjectKey{Name: "hosts-pay"}, &platformv1alpha1.Team{}) == nil
	})
	// The SREs are told when two Teams share hosts; it is allowed, the first claim decides.
	warned := &warnings{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandler = warned
	sre, err := client.New(cfg, client.Options{Scheme: k8sClient.Scheme()})
	Must(t, err)
	Must(t, sre.Create(ctx, search))
	for _, want := range []string{
		`spec.hosts[1]: "shop.example.com" overlaps "shop.example.com" of Team hosts-pay`,
		`spec.hosts[2]: "race.example.com" overlaps "race.example.com" of Team hosts-pay`,
	} {
		if !strings.Contains(warned.all(), want) {
			t.Errorf("creating team search: warnings %q do not say %q", warned.all(), want)
		}
	}
	if strings.Contains(warned.all(), "search.example.com\" overlaps") {
		t.Errorf("creating team search: warned about a host only search has: %s", warned.all())
	}
	Must(t, k8sClient.Create(ctx, teamTenant("hosts-pay-web", "hosts-pay")))
	Must(t, k8sClient.Create(ctx, teamTenant("hosts-search-web", "hosts-search")))
	waitReady(t, "hosts-pay-web")
	waitReady(t, "hosts-search-web")
	alice := user(t, "alice-hosts@example.com", "team-hosts-pay")
	mallory := user(t, "mallory-hosts@example.com", "team-hosts-search")
	Eventually(t, 20*time.Second, "the owners may create Ingresses", func() bool {
		return alice.Create(ctx, ingress("hosts-pay-web", "pay", "pay.example.com"), client.DryRunAll) == nil
	})

	t.Run("only the team's hosts", func(t *testing.T) {
		Must(t, alice.Create(ctx, ingress("hosts-pay-web", "pay", "pay.example.com", "api.pay.example.com")))
		refusedWith(t, "search taking pay.example.com", mallory.Create(ctx, ingress("hosts-search-web", "steal", "pay.example.com")),
			"spec.rules[0].host", `"pay.example.com" is not a host of Team hosts-search`, "its hosts are *.search.example.com, shop.example.com")
		refusedWith(t, "search taking *.example.com", mallory.Create(ctx, ingress("hosts-search-web", "wild", "*.example.com")),
			"spec.rules[0].host", `"*.example.com" is not a host of Team hosts-search`)
		refusedWith(t, "a rule without a host", mallory.Create(ctx, ingress("hosts-search-web", "catch-all", "")),
			"spec.rules[0].host", "without a host, the Ingress serves every host name")
		withDefault := ingress("hosts-search-web", "default", "www.search.example.com")
		withDefault.Spec.DefaultBackend = withDefault.Spec.Rules[0].HTTP.Paths[0].Backend.DeepCopy()
		refusedWith(t, "a default backend", mallory.Create(ctx, withDefault), "spec.defaultBackend", "a default backend takes the requests of every host")

		// A wildcard inside the team's own hosts is fine; adding another team's host to its TLS
		// section later is not.
		own := ingress("hosts-search-web", "own", "*.api.search.example.com", "www.search.example.com")
		Must(t, mallory.Create(ctx, own))
		own.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"www.search.example.com", "pay.example.com"}, SecretName: "tls"}}
		refusedWith(t, "adding pay.example.com to TLS", mallory.Update(ctx, own), "spec.tls[0].hosts[1]", `"pay.example.com" is not a host of Team hosts-search`)
	})

	t.Run("the first claim wins", func(t *testing.T) {
		Must(t, alice.Create(ctx, ingress("hosts-pay-web", "shop", "shop.example.com")))
		Eventually(t, 10*time.Second, "the cache holds pay's shop", func() bool {
			return cached.Get(ctx, client.ObjectKey{Namespace: "hosts-pay-web", Name: "shop"}, &networkingv1.Ingress{}) == nil
		})
		refusedWith(t, "search taking shop.example.com, which it owns too", mallory.Create(ctx, ingress("hosts-search-web", "shop", "shop.example.com")),
			"spec.rules[0].host", `"shop.example.com" is already served by Ingress hosts-pay-web/shop of team hosts-pay`)
		// The same team may serve it again, from another object.
		Must(t, alice.Create(ctx, ingress("hosts-pay-web", "shop-v2", "shop.example.com")))

		// A host a platform namespace serves is nobody else's, and neither is a wildcard over it.
		Must(t, k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hosts-platform"}}))
		Must(t, k8sClient.Create(ctx, ingress("hosts-platform", "status", "status.search.example.com")))
		Eventually(t, 10*time.Second, "the cache holds the platform's ingress", func() bool {
			return cached.Get(ctx, client.ObjectKey{Namespace: "hosts-platform", Name: "status"}, &networkingv1.Ingress{}) == nil
		})
		refusedWith(t, "search taking the platform's host", mallory.Create(ctx, ingress("hosts-search-web", "status", "status.search.example.com")),
			"is already served by Ingress hosts-platform/status of no tenant")
		refusedWith(t, "search taking a wildcard over it", mallory.Create(ctx, ingress("hosts-search-web", "all", "*.search.example.com")),
			`"*.search.example.com" is already served by Ingress hosts-platform/status`)

		// An object being deleted serves nothing: once pay's shop Ingresses are terminating,
		// search may claim the host. Their finalizers come off while they terminate, which the
		// webhook lets through (it is not asked: the spec does not change).
		for _, name := range []string{"shop", "shop-v2"} {
			Update(t, k8sClient, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "hosts-pay-web", Name: name}}, func(i *networkingv1.Ingress) {
				i.Finalizers = append(i.Finalizers, "example.com/hold")
			})
			Must(t, k8sClient.Delete(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "hosts-pay-web", Name: name}}))
		}
		Eventually(t, 10*time.Second, "search may take shop.example.com", func() bool {
			return mallory.Create(ctx, ingress("hosts-search-web", "shop", "shop.example.com")) == nil
		})
		for _, name := range []string{"shop", "shop-v2"} {
			Update(t, alice, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "hosts-pay-web", Name: name}}, func(i *networkingv1.Ingress) {
				i.Finalizers = nil
			})
		}
	})

	t.Run("a race of parallel requests", func(t *testing.T) {
		var mu sync.Mutex
		admitted := map[string]int{}
		_ = Parallel(16, 16, func(i int) error {
			c, ns := alice, "hosts-pay-web"
			if i%2 == 1 {
				c, ns = mallory, "hosts-search-web"
			}
			err := c.Create(ctx, ingress(ns, fmt.Sprintf("race-%d", i), "race.example.com"))
			if err == nil {
				mu.Lock()
				admitted[ns]++
				mu.Unlock()
			} else if !strings.Contains(err.Error(), "is already served by") {
				t.Errorf("request %d: %v", i, err)
			}
			return nil
		})
		if len(admitted) != 1 {
			t.Errorf("race.example.com admitted for %v, want one team only", admitted)
		}
	})

	t.Run("two replicas", func(t *testing.T) {
		// A second replica: its own cache and index, the same apiserver. It admits search's
		// Ingress for twin.example.com, whose create has not reached the apiserver yet (it never
		// will here); the first replica, asked next for pay's, must know.
		second, err := cache.New(cp.Config, cache.Options{Scheme: k8sClient.Scheme()})
		Must(t, err)
		routes := []schema.GroupVersionKind{{Group: webhook.GatewayGroup, Version: "v1", Kind: "HTTPRoute"}}
		Must(t, webhook.IndexHosts(ctx, second, routes))
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = second.Start(cctx) }()
		if !second.WaitForCacheSync(cctx) {
			t.Fatal("the second replica's cache did not sync")
		}
		replica := &webhook.HostGuard{Reader: k8sClient, Claims: second, Records: k8sClient, Namespace: controlplane.TestOptions().OperatorNamespace, Routes: routes}
		twin := ingress("hosts-search-web", "twin", "twin.example.com")
		twin.APIVersion, twin.Kind = "networking.k8s.io/v1", "Ingress" // as the apiserver sends it
		raw, err := json.Marshal(twin)
		Must(t, err)
		resp := replica.Handle(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID: "twin", Kind: metav1.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
			Namespace: "hosts-search-web", Name: "twin", Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
		}})
		if !resp.Allowed {
			t.Fatalf("the second replica refused search's twin.example.com: %+v", resp.Result)
		}
		refusedWith(t, "pay taking the host the other replica just admitted", alice.Create(ctx, ingress("hosts-pay-web", "twin", "twin.example.com")),
			"spec.rules[0].host", `"twin.example.com" is already served by Ingress hosts-search-web/twin of team hosts-search`)
	})

	t.Run("Gateway API routes", func(t *testing.T) {
		// Routes are created as a platform admin: admission still applies the team's hosts.
		refusedWith(t, "a route for pay's host in search's namespace", k8sClient.Create(ctx, httpRoute("hosts-search-web", "steal", "api.pay.example.com")),
			"spec.hostnames[0]", `"api.pay.example.com" is not a host of Team hosts-search`)
		refusedWith(t, "a route without hostnames", k8sClient.Create(ctx, httpRoute("hosts-search-web", "all")),
			"spec.hostnames", "without a host, the HTTPRoute serves every host name")
		Must(t, k8sClient.Create(ctx, httpRoute("hosts-search-web", "api", "api.search.example.com")))
		Eventually(t, 10*time.Second, "the cache holds the route", func() bool {
			var r unstructured.Unstructured
			r.SetAPIVersion("gateway.networking.k8s.io/v1")
			r.SetKind("HTTPRoute")
			return cached.Get(ctx, client.ObjectKey{Namespace: "hosts-search-web", Name: "api"}, &r) == nil
		})
		// An Ingress and a route claim hosts from one index.
		refusedWith(t, "pay's ingress for a wildcard over search's route", alice.Create(ctx, ingress("hosts-pay-web", "over", "*.search.example.com")),
			`"*.search.example.com" is not a host of Team hosts-pay`)
		Update(t, k8sClient, &platformv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: "hosts-pay"}}, func(tm *platformv1alpha1.Team) {
			tm.Spec.Hosts = append(tm.Spec.Hosts, "api.search.example.com")
		})
		Eventually(t, 10*time.Second, "pay is refused search's route host", func() bool {
			err := alice.Create(ctx, ingress("hosts-pay-web", "api", "api.search.example.com"))
			return err != nil && strings.Contains(err.Error(), `"api.search.example.com" is already served by HTTPRoute hosts-search-web/api of team hosts-search`)
		})
	})
}
