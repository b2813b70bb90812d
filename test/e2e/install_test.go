package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// The install's ServiceAccount, as the apiserver names it.
const managerUser = "system:serviceaccount:selfserve-system:selfserve-controller-manager"

// TestRenderedInstallRunsEveryFlowWithItsOwnRights applies the install that config/default
// renders (`kubectl apply --server-side`) to a control plane with kube-controller-manager, runs
// the manager binary authenticated as the install's ServiceAccount (a user of that name and no
// groups, so only the rendered RBAC grants it anything), and walks every flow: the samples
// converge to Ready, a developer works in her namespace and cannot remove its isolation, her
// pods get the DNS settings, an SLO reaches Datadog, the upgrade policy reaches GKE, the
// metrics endpoint serves only a scraper bound to the metrics reader role, and a deleted tenant
// takes its namespace with it. The webhooks are served with the certificate the
// manager issues itself. The manager must never have been refused a request.
func TestRenderedInstallRunsEveryFlowWithItsOwnRights(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := controlplane.Start(controlplane.Options{ControllerManager: true, Bare: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { Must(t, cp.Stop()) }()
	tmp := t.TempDir()

	kubeconfig := func(name, user string, groups ...string) string {
		data, err := cp.Kubeconfig(user, groups...)
		Must(t, err)
		path := filepath.Join(tmp, name+".kubeconfig")
		Must(t, os.WriteFile(path, data, 0o600))
		return path
	}
	admin := kubeconfig("admin", "sre@example.com", "system:masters")
	alice := kubeconfig("alice", "alice@example.com", "developers", "team-payments")
	manager := kubeconfig("manager", managerUser)
	kubectl := func(kubeconfig string, stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, cp.Kubectl(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Dir = root
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustKubectl := func(kubeconfig, stdin string, args ...string) string {
		t.Helper()
		out, err := kubectl(kubeconfig, stdin, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	// The install, as an SRE applies it.
	rendered := mustKubectl(admin, "", "kustomize", "config/default")
	mustKubectl(admin, rendered, "apply", "--server-side", "-f", "-")
	// No node runs the Deployment here, so the manager runs as a process on this machine, and
	// the webhook configurations call it at 127.0.0.1, as they would a manager run outside the
	// cluster; everything else (rules, selectors, failure policies) is the install's.
	ports, err := controlplane.FreePorts(3)
	Must(t, err)
	webhookPort, probePort, metricsPort := ports[0], ports[1], ports[2]
	c, err := cp.Client()
	Must(t, err)
	pointWebhooksAt(t, c, fmt.Sprintf("https://127.0.0.1:%d", webhookPort))

	// What an SRE configures: the Datadog Secret (here pointing at the Datadog fake) and the
	// developers' right to request tenants.
	dd, ddURL, gkeEndpoint := sampleFakes(t)
	mustKubectl(admin, "", "create", "secret", "generic", "selfserve-datadog", "-n", "selfserve-system",
		"--from-literal="+datadog.SecretKeyAPIKey+"="+datadogfake.DefaultAPIKey,
		"--from-literal="+datadog.SecretKeyAppKey+"="+datadogfake.DefaultAppKey,
		"--from-literal="+datadog.SecretKeyURL+"="+ddURL)
	mustKubectl(admin, "", "create", "clusterrolebinding", "developers-request-tenants",
		"--clusterrole=selfserve-tenant-requester", "--group=developers")
	// The cluster's DNS add-ons, which the sample class's NodeLocal DNSCache relies on.
	CreateClusterDNS(t, c)
	SetNodeLocalDNS(t, c, 1, 1)

	// The Deployment's own args and environment, then what differs outside a pod (later flags
	// win): the kubeconfig, local ports, the certificate's extra address, the GKE fake.
	args, env := managerContainer(t, rendered)
	probe := fmt.Sprintf("127.0.0.1:%d", probePort)
	args = append(args,
		"--kubeconfig", manager,
		"--leader-election-namespace=selfserve-system",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		"--health-probe-bind-address="+probe,
		fmt.Sprintf("--webhook-port=%d", webhookPort),
		"--webhook-cert-hosts=127.0.0.1",
		"--gke-endpoint="+gkeEndpoint,
	)
	mgr, err := controlplane.StartManager(context.Background(), args, append(env, "POD_NAMESPACE=selfserve-system", "DD_API_KEY=", "DD_APP_KEY="), probe)
	Must(t, err)
	defer func() { _ = mgr.Stop() }()
	Eventually(t, time.Minute, "the manager injected its CA into both webhook configurations", func() bool {
		return caBundlesSet(t, c)
	})

	// The samples, as the README applies them: the SREs' teams, classes and policy, then the
	// team's tenant and SLO, applied by a developer.
	mustKubectl(admin, "", "apply", "--server-side", "-f", "config/samples/platform_v1alpha1_team.yaml")
	if out := mustKubectl(admin, "", "apply", "--server-side", "-f", "config/samples/platform_v1alpha1_tenantclass.yaml"); strings.Contains(out, "Warning") {
		t.Errorf("the sample classes allow only roles the install may bind, yet:\n%s", out)
	}
	// A class allowing a role the install does not let the operator bind is accepted, with a
	// warning that says how to grant it.
	out := mustKubectl(admin, "apiVersion: platform.selfserve.dev/v1alpha1\nkind: TenantClass\nmetadata: {name: observability}\nspec: {allowedClusterRoles: [view, monitoring-reader]}\n",
		"apply", "--server-side", "-f", "-")
	if !strings.Contains(out, `may not bind ClusterRole "monitoring-reader"`) || strings.Contains(out, `ClusterRole "view"`) {
		t.Errorf("applying a class with an unbindable role:\n%s", out)
	}
	mustKubectl(admin, "", "apply", "--server-side", "-f", "config/samples/platform_v1alpha1_clusterupgradepolicy.yaml")
	mustKubectl(alice, "", "apply", "--server-side", "-f", "config/samples/platform_v1alpha1_tenantnamespace.yaml")
	ready := func(kubeconfig string, args ...string) func() bool {
		return func() bool {
			out, err := kubectl(kubeconfig, "", append([]string{"get", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`}, args...)...)
			return err == nil && out == "True"
		}
	}
	Eventually(t, time.Minute, "the sample tenant is Ready", ready(alice, "tenantnamespace", "checkout"))
	Eventually(t, time.Minute, "the sample class is Ready and counts the tenant", func() bool {
		out, err := kubectl(admin, "", "get", "tenantclass", "standard", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.tenants}`)
		return err == nil && out == "True 1"
	})
	// Teams are the SREs': a developer may read hers, never declare or change one (she could
	// otherwise make herself a member of any team).
	for _, verb := range []string{"create", "update", "patch", "delete"} {
		// kubectl warns first that Teams are cluster-scoped; the answer is the last word.
		out, _ := kubectl(alice, "", "auth", "can-i", verb, "teams.platform.selfserve.dev")
		if words := strings.Fields(out); len(words) == 0 || words[len(words)-1] != "no" {
			t.Errorf("alice may %s Teams: %s", verb, out)
		}
	}
	Eventually(t, time.Minute, "the team counts its namespace", func() bool {
		out, err := kubectl(alice, "", "get", "team", "payments", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.namespaces} {.status.budgetLeft.namespaces}`)
		return err == nil && out == "True 1 5"
	})
	mustKubectl(alice, "", "apply", "--server-side", "-f", "config/samples/checkout/")
	Eventually(t, time.Minute, "the sample SLO is Ready", ready(alice, "-n", "checkout", "serviceslo", "checkout-availability"))
	Eventually(t, time.Minute, "the sample upgrade policy is Ready and synced to GKE", func() bool {
		out, err := kubectl(admin, "", "get", "clusterupgradepolicy", "production", "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.provider.state}`)
		return err == nil && out == "True Synced"
	})
	if n := len(dd.SLOs()); n != 1 {
		t.Errorf("Datadog holds %d SLOs, want the sample's 1", n)
	}

	// The developer works in her namespace; her pods get the DNS settings (mutating webhook).
	mustKubectl(alice, "", "create", "deployment", "web", "--image=nginx", "-n", "checkout")
	mustKubectl(alice, "", "run", "probe", "--image=nginx", "-n", "checkout")
	if out := mustKubectl(alice, "", "get", "pod", "probe", "-n", "checkout", "-o", "jsonpath={.spec.dnsConfig.nameservers}"); !strings.Contains(out, "169.254.20.10") {
		t.Errorf("the pod's nameservers are %s, want the node-local cache", out)
	}
	// She is the namespace's admin, yet cannot remove its isolation (validating webhook).
	out, err = kubectl(alice, "", "delete", "networkpolicies", "--all", "-n", "checkout")
	if err == nil || !strings.Contains(out, "denied the request") {
		t.Errorf("alice deleting the namespace's NetworkPolicies: err=%v\n%s", err, out)
	}

	// The metrics endpoint answers a scraper bound to selfserve-metrics-reader, and only it (the
	// manager checks the caller's token and rights with the apiserver).
	mustKubectl(admin, "", "create", "namespace", "monitoring")
	mustKubectl(admin, "", "create", "serviceaccount", "prometheus", "-n", "monitoring")
	mustKubectl(admin, "", "create", "serviceaccount", "stranger", "-n", "monitoring")
	mustKubectl(admin, "", "create", "clusterrolebinding", "prometheus-selfserve-metrics",
		"--clusterrole=selfserve-metrics-reader", "--serviceaccount=monitoring:prometheus")
	scrape := func(sa string) (int, string) {
		token := strings.TrimSpace(mustKubectl(admin, "", "create", "token", sa, "-n", "monitoring"))
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/metrics", metricsPort), nil)
		Must(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		// The endpoint's certificate is self-signed unless one is mounted.
		insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		res, err := insecure.Do(req)
		if err != nil {
			t.Fatalf("scraping as %s: %v", sa, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if code, body := scrape("prometheus"); code != http.StatusOK || !strings.Contains(body, `selfserve_tenants{class="standard",ready="True"} 1`) {
		t.Errorf("scraping as the metrics reader: %d\n%.500s", code, body)
	}
	if code, _ := scrape("stranger"); code != http.StatusForbidden {
		t.Errorf("scraping without the metrics reader role: %d, want 403", code)
	}

	// Deleting a tenant whose policy is Delete takes the namespace with it.
	mustKubectl(alice, "", "patch", "tenantnamespace", "checkout", "--type=merge", "-p", `{"spec":{"deletionPolicy":"Delete"}}`)
	mustKubectl(alice, "", "delete", "-n", "checkout", "serviceslo", "checkout-availability", "--wait=false")
	mustKubectl(alice, "", "delete", "tenantnamespace", "checkout", "--wait=false")
	Eventually(t, 2*time.Minute, "the tenant and its namespace are gone", func() bool {
		out, _ := kubectl(admin, "", "get", "namespace", "checkout", "--ignore-not-found", "-o", "name")
		tn, _ := kubectl(admin, "", "get", "tenantnamespace", "checkout", "--ignore-not-found", "-o", "name")
		return out == "" && tn == ""
	})
	Eventually(t, time.Minute, "the SLO is gone from Datadog", func() bool { return len(dd.SLOs()) == 0 })

	if err := mgr.Stop(); err != nil {
		t.Errorf("the manager did not exit cleanly on SIGTERM: %v", err)
	}
	// Uninstalling as the SRE guide says keeps the CRDs, and so the Teams and classes.
	mustKubectl(admin, "", "delete", "-k", "config/uninstall", "--wait=false")
	if out, err := kubectl(admin, "", "get", "team/payments", "tenantclass/standard", "-o", "name"); err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("after kubectl delete -k config/uninstall: %v\n%s", err, out)
	}
	// Least privilege, proven: every request the flows needed was allowed.
	for _, line := range strings.Split(mgr.Log(), "\n") {
		if strings.Contains(line, "forbidden") {
			t.Errorf("the manager was refused a request: %s", line)
		}
	}
	if t.Failed() {
		t.Logf("manager log:\n%s", mgr.Log())
	}
}

// managerContainer returns the args and the literal environment of the manager container of
// the rendered Deployment.
func managerContainer(t *testing.T, rendered string) (args, env []string) {
	t.Helper()
	for _, doc := range strings.Split(rendered, "\n---") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != "manager" {
				continue
			}
			for _, e := range c.Env {
				switch {
				case e.ValueFrom == nil:
					env = append(env, e.Name+"="+e.Value)
				case e.ValueFrom.ResourceFieldRef != nil:
					// What the kubelet passes: the container's own limit, in bytes.
					q, ok := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(e.ValueFrom.ResourceFieldRef.Resource, "limits."))]
					if !ok {
						t.Fatalf("env %s refers to %s, which the container does not set", e.Name, e.ValueFrom.ResourceFieldRef.Resource)
					}
					env = append(env, fmt.Sprintf("%s=%d", e.Name, q.Value()))
				}
			}
			return c.Args, env
		}
	}
	t.Fatal("the install has no Deployment with a manager container")
	return nil, nil
}

// pointWebhooksAt replaces the Service of every webhook in the install's configurations with a
// URL on base, keeping each webhook's path.
func pointWebhooksAt(t *testing.T, c client.Client, base string) {
	t.Helper()
	ctx := context.Background()
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	Must(t, c.Get(ctx, types.NamespacedName{Name: "selfserve-validating-webhook-configuration"}, &v))
	for i := range v.Webhooks {
		v.Webhooks[i].ClientConfig = urlConfig(base, v.Webhooks[i].ClientConfig)
	}
	Must(t, c.Update(ctx, &v))
	var m admissionregistrationv1.MutatingWebhookConfiguration
	Must(t, c.Get(ctx, types.NamespacedName{Name: "selfserve-mutating-webhook-configuration"}, &m))
	for i := range m.Webhooks {
		m.Webhooks[i].ClientConfig = urlConfig(base, m.Webhooks[i].ClientConfig)
	}
	Must(t, c.Update(ctx, &m))
}

func urlConfig(base string, cc admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.WebhookClientConfig {
	url := base + *cc.Service.Path
	return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: cc.CABundle}
}

// caBundlesSet says whether every webhook of both configurations has a caBundle.
func caBundlesSet(t *testing.T, c client.Client) bool {
	ctx := context.Background()
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	var m admissionregistrationv1.MutatingWebhookConfiguration
	if c.Get(ctx, types.NamespacedName{Name: "selfserve-validating-webhook-configuration"}, &v) != nil ||
		c.Get(ctx, types.NamespacedName{Name: "selfserve-mutating-webhook-configuration"}, &m) != nil {
		return false
	}
	for _, w := range v.Webhooks {
		if len(w.ClientConfig.CABundle) == 0 {
			return false
		}
	}
	for _, w := range m.Webhooks {
		if len(w.ClientConfig.CABundle) == 0 {
			return false
		}
	}
	return len(v.Webhooks) > 0 && len(m.Webhooks) > 0
}
