// Package e2e runs selfserve the way a user does: the `make run` sandbox as a process, and
// kubectl against it.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestSandboxAcceptsTheSamples builds and starts the sandbox of `make run`, applies
// config/samples with kubectl as the README says, reads them back with their printer columns,
// checks a webhook answers, and stops the sandbox with Ctrl-C (SIGINT), expecting a clean exit
// that leaves none of its processes behind.
func TestSandboxAcceptsTheSamples(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "sandbox")
	build := exec.Command("go", "build", "-o", bin, "./hack/sandbox")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the sandbox: %v\n%s", err, out)
	}

	dir := filepath.Join(tmp, "state")
	sandbox := exec.Command(bin, "--dir", dir)
	sandbox.Dir = root
	sandbox.Env = append(os.Environ(), "DD_API_KEY=", "DD_APP_KEY=")
	stdout, err := sandbox.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	sandbox.Stderr = &stderr
	Must(t, sandbox.Start())
	exited := make(chan error, 1)
	defer func() {
		if sandbox.ProcessState == nil {
			_ = sandbox.Process.Kill()
		}
	}()

	ready := make(chan string, 1)
	go func() {
		var banner strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			banner.WriteString(sc.Text() + "\n")
			if sc.Text() == "sandbox ready" {
				ready <- banner.String()
			}
		}
		exited <- sandbox.Wait()
	}()
	var banner string
	select {
	case banner = <-ready:
	case err := <-exited:
		t.Fatalf("the sandbox exited before it was ready: %v\n%s", err, stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("the sandbox was not ready after 3 minutes\n%s", stderr.String())
	}
	for _, want := range []string{"LOCAL FAKE", "kubectl apply -f config/samples/\n", "kubectl wait --for=condition=Ready tenantnamespace/checkout",
		"kubectl apply -f config/samples/checkout/", "DD_API_KEY=", "Ctrl-C"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner does not say %q:\n%s", want, banner)
		}
	}

	kubectl := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(dir, "bin", "kubectl"), append([]string{"--kubeconfig", filepath.Join(dir, "kubeconfig")}, args...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := kubectl("apply", "-f", "config/samples/")
	if err != nil {
		t.Fatalf("kubectl apply -f config/samples/: %v\n%s", err, out)
	}
	for _, want := range []string{"tenantclass.platform.selfserve.dev/standard created", "tenantnamespace.platform.selfserve.dev/checkout created",
		"clusterupgradepolicy.platform.selfserve.dev/production created"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply did not report %q:\n%s", want, out)
		}
	}

	out, err = kubectl("get", "tenantnamespaces")
	if err != nil {
		t.Fatalf("kubectl get tenantnamespaces: %v\n%s", err, out)
	}
	if header := strings.Fields(strings.SplitN(out, "\n", 2)[0]); strings.Join(header, " ") != "NAME TEAM CLASS READY APPROVAL AGE" {
		t.Errorf("printer columns %v, want NAME TEAM CLASS READY APPROVAL AGE", header)
	}
	if !strings.Contains(out, "checkout") || !strings.Contains(out, "payments") {
		t.Errorf("kubectl get tenantnamespaces does not show the sample:\n%s", out)
	}

	// The operator provisions the sample tenant: kubectl waits for it as the banner says, and
	// shows it Ready in class standard.
	if out, err := kubectl("wait", "--for=condition=Ready", "--timeout=60s", "tenantnamespace/checkout"); err != nil {
		t.Fatalf("kubectl wait for the sample tenant: %v\n%s", err, out)
	}
	out, err = kubectl("get", "tenantnamespace", "checkout", "--no-headers")
	if f := strings.Fields(out); err != nil || len(f) < 4 || f[2] != "standard" || f[3] != "True" {
		t.Errorf("kubectl get tenantnamespace checkout: want class standard, Ready True:\n%s", out)
	}
	// The SREs see who each team is, what it holds and what is left of its budget.
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("kubectl get teams:\n%s", last)
		}
	}()
	Eventually(t, 30*time.Second, "kubectl get teams shows payments holding checkout", func() bool {
		out, err := kubectl("get", "teams")
		if err != nil {
			return false
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if strings.Join(strings.Fields(lines[0]), " ") != "NAME MEMBERS NAMESPACES BUDGET LEFT READY AGE" {
			t.Fatalf("printer columns %q", lines[0])
		}
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) >= 5 && f[0] == "payments" && f[1] == "team-payments,argocd/payments-deployer" && f[2] == "1" && f[3] == "5" && f[4] == "True" {
				return true
			}
		}
		last = out
		return false
	})
	// The SLO sample, in the team's namespace, reaches the Datadog fake.
	if out, err := kubectl("apply", "-f", "config/samples/checkout/"); err != nil || !strings.Contains(out, "serviceslo.platform.selfserve.dev/checkout-availability created") {
		t.Fatalf("kubectl apply -f config/samples/checkout/: %v\n%s", err, out)
	}
	Eventually(t, time.Minute, "the ServiceSLO in checkout is Ready with a Datadog ID", func() bool {
		out, err := kubectl("get", "serviceslo", "checkout-availability", "-n", "checkout", "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.sloID}`)
		f := strings.Fields(out)
		return err == nil && len(f) == 2 && f[0] == "True" && len(f[1]) == 32
	})

	// The README tour lists the checkout namespace's baseline monitors, from class standard,
	// with their IDs and Datadog's state.
	Eventually(t, time.Minute, "kubectl lists checkout's five baseline monitors", func() bool {
		out, err := kubectl("get", "tenantnamespace", "checkout", "-o", `jsonpath={range .status.monitors[*]}{.name} {.id} {.state}{"\n"}{end}`)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err != nil || len(lines) != 5 {
			return false
		}
		for _, l := range lines {
			if f := strings.Fields(l); len(f) < 3 || f[1] == "0" {
				return false
			}
		}
		return strings.HasPrefix(lines[0], "crash-loop ")
	})

	// The README tour shows the payments Team's dashboard URL.
	Eventually(t, 90*time.Second, "kubectl shows the payments dashboard's URL", func() bool {
		out, err := kubectl("get", "team", "payments", "-o", "jsonpath={.status.dashboard.url}")
		return err == nil && strings.Contains(out, "/dashboard/")
	})

	// The budget the fake measures comes back into kubectl (the sandbox polls every 30 s).
	Eventually(t, 90*time.Second, "kubectl shows the SLO's error budget", func() bool {
		out, err := kubectl("get", "serviceslo", "checkout-availability", "-n", "checkout", "-o", "jsonpath={.status.errorBudget[0].remaining}")
		return err == nil && out != ""
	})

	// The sample upgrade policy is evaluated and synced to the GKE fake.
	Eventually(t, time.Minute, "the upgrade policy is synced to the GKE fake", func() bool {
		out, err := kubectl("get", "clusterupgradepolicy", "production", "-o", `jsonpath={.status.provider.state} {.status.conditions[?(@.type=="UpgradeAllowed")].reason}`)
		return err == nil && strings.HasPrefix(out, "Synced ")
	})

	// Production follows staging (the GKE fake's staging cluster took the next minor 36 hours
	// ago): the policy says where staging stands and when its soak ends.
	Eventually(t, time.Minute, "the policy shows staging soaking", func() bool {
		out, err := kubectl("get", "clusterupgradepolicy", "production", "-o", `jsonpath={.status.upstreams[0].name} {.status.upstreams[0].soaked} {.status.upstreams[0].soakedAt} {.status.upstreams[0].message}`)
		return err == nil && strings.HasPrefix(out, "staging false 20") && strings.Contains(out, "if its gates hold")
	})

	// What the operator said reaches kubectl describe, one Event per thing said, for all five
	// kinds; and kube-state-metrics, read with the project's config, finds every metric of every
	// sample (a count of zero, a budget not known yet, included).
	reason, _ := kubectl("get", "clusterupgradepolicy", "production", "-o", `jsonpath={.status.conditions[?(@.type=="UpgradeAllowed")].reason}`)
	described := []struct {
		args []string
		want map[string]int // a line of the Events section, and how many lines hold it
	}{
		{[]string{"team", "payments"}, map[string]int{"Accepted": 1}},
		{[]string{"tenantclass", "standard"}, map[string]int{"Accepted": 1}},
		{[]string{"tenantnamespace", "checkout"}, map[string]int{"Created namespace checkout for team payments": 1}},
		{[]string{"serviceslo", "checkout-availability", "-n", "checkout"}, map[string]int{"Created SLO": 1, "Created burn-rate monitor": 3}},
		{[]string{"clusterupgradepolicy", "production"}, map[string]int{reason: 1}},
	}
	for _, d := range described {
		var last string
		ok := Within(30*time.Second, func() bool {
			out, err := kubectl(append([]string{"describe"}, d.args...)...)
			_, events, _ := strings.Cut(out, "\nEvents:")
			last = events
			for text, n := range d.want {
				if err != nil || strings.Count(events, text) != n {
					return false
				}
			}
			return true
		})
		if !ok {
			t.Errorf("kubectl describe %s: Events want %v:\n%s", strings.Join(d.args, " "), d.want, last)
		}
	}
	cfg, err := LoadKSMConfig(root)
	Must(t, err)
	for kind, obj := range map[string][]string{"Team": {"team", "payments"}, "TenantClass": {"tenantclass", "standard"},
		"TenantNamespace": {"tenantnamespace", "checkout"}, "ServiceSLO": {"serviceslo", "checkout-availability", "-n", "checkout"},
		"ClusterUpgradePolicy": {"clusterupgradepolicy", "production"}} {
		res, ok := cfg.Resource(kind)
		if !ok {
			t.Errorf("no kube-state-metrics config for %s", kind)
			continue
		}
		out, err := kubectl(append([]string{"get", "-o", "json"}, obj...)...)
		Must(t, err)
		var u map[string]any
		Must(t, json.Unmarshal([]byte(out), &u))
		series := res.Series(u)
		if dup := res.Duplicates(u); len(dup) > 0 {
			t.Errorf("kube-state-metrics would export series with the same labels for the sample %s: %v", kind, dup)
		}
		for _, m := range res.Metrics {
			if series[res.MetricNamePrefix+"_"+m.Name] == 0 {
				t.Errorf("kube-state-metrics would export no %s_%s for the sample %s", res.MetricNamePrefix, m.Name, kind)
			}
		}
		t.Logf("%s: %v", kind, series)
	}

	// The developer works in her namespace, and cannot claim one for another team.
	alice := func(args ...string) (string, error) {
		return kubectl(append([]string{"--kubeconfig", filepath.Join(dir, "alice.kubeconfig")}, args...)...)
	}
	// What selfserve said about her tenant reaches her in its namespace: Events about the
	// cluster-scoped TenantNamespace live in default, which she may not read, and kubectl
	// describe lists them across all namespaces, which only admins may (it shows the conditions).
	var events string
	if !Within(30*time.Second, func() bool {
		events, _ = alice("events", "-n", "checkout", "--for", "tenantnamespace/checkout")
		return strings.Contains(events, "Created namespace checkout for team payments")
	}) {
		t.Errorf("alice: kubectl events -n checkout --for tenantnamespace/checkout shows no creation:\n%s", events)
	}
	if out, err := alice("get", "events", "-n", "checkout"); err != nil || !strings.Contains(out, "tenantnamespace/checkout") {
		t.Errorf("alice: kubectl get events -n checkout: %v\n%s", err, out)
	}
	if out, err := alice("describe", "tns", "checkout"); err != nil || !strings.Contains(out, "Provisioned") {
		t.Errorf("alice: kubectl describe tns checkout shows no conditions: %v\n%s", err, out)
	}
	if out, err := alice("create", "deployment", "web", "--image=nginx", "-n", "checkout"); err != nil {
		t.Errorf("alice creating a Deployment in checkout: %v\n%s", err, out)
	}
	// Namespace admins manage ServiceSLOs through the aggregated role the project ships.
	if out, err := alice("auth", "can-i", "create", "serviceslos", "-n", "checkout"); err != nil || strings.TrimSpace(out) != "yes" {
		t.Errorf("alice may not create ServiceSLOs in her namespace: %v %s", err, out)
	}
	if out, err := alice("auth", "can-i", "create", "serviceslos", "-n", "default"); strings.TrimSpace(out) != "no" {
		t.Errorf("alice may create ServiceSLOs in default: %v %s", err, out)
	}

	// The sample tenant enables NodeLocal DNSCache: her pods get the cache and the fallback.
	if out, err := alice("run", "probe", "--image=nginx", "-n", "checkout"); err != nil {
		t.Errorf("alice running a pod: %v\n%s", err, out)
	}
	out, err = kubectl("get", "pod", "probe", "-n", "checkout", "-o", "jsonpath={.spec.dnsPolicy} {.spec.dnsConfig.nameservers}")
	if err != nil || !strings.Contains(out, "None") || !strings.Contains(out, "169.254.20.10") {
		t.Errorf("the pod's DNS settings: %v %s", err, out)
	}
	// The README tour's refusals: hosts (the webhook), Service types, and the pci class's
	// registry, node pool and storage class (kube-apiserver itself), each with its message.
	apply := func(name, manifest string, as func(...string) (string, error), args ...string) (string, error) {
		path := filepath.Join(tmp, name+".yaml")
		Must(t, os.WriteFile(path, []byte(manifest), 0o600))
		return as(append(args, "-f", path)...)
	}
	restricted := "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n" +
		"  containers: [{name: app, image: %s, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]\n%s\n"
	for _, c := range []struct {
		what string
		run  func() (string, error)
		want string // "" for allowed
	}{
		{"an Ingress for a payments host", func() (string, error) {
			return alice("create", "ingress", "web", "-n", "checkout", "--rule=shop.pay.example.com/*=web:80")
		}, ""},
		{"an Ingress for a search host", func() (string, error) {
			return alice("create", "ingress", "steal", "-n", "checkout", "--rule=www.search.example.com/*=web:80")
		}, `spec.rules[0].host: Forbidden: "www.search.example.com" is not a host of Team payments: its hosts are pay.example.com, *.pay.example.com`},
		{"a NodePort Service", func() (string, error) {
			return alice("create", "service", "nodeport", "web", "--tcp=80", "-n", "checkout")
		},
			"spec.type: NodePort is not a Service type TenantClass standard allows (workloads.serviceTypes: ClusterIP, LoadBalancer)"},
		{"a pci tenant", func() (string, error) {
			if out, err := apply("cards", "apiVersion: platform.selfserve.dev/v1alpha1\nkind: TenantNamespace\nmetadata: {name: cards}\nspec: {team: payments, class: pci, owners: [{kind: Group, name: team-payments}]}\n", alice, "apply"); err != nil {
				return out, err
			}
			return kubectl("wait", "--for=condition=Ready", "--timeout=60s", "tenantnamespace/cards")
		}, ""},
		{"a pci pod from docker.io", func() (string, error) {
			return apply("pci-docker", fmt.Sprintf(restricted, "docker.io/library/nginx", ""), alice, "create", "-n", "cards")
		}, "spec.containers[*].image: docker.io/library/nginx not from a registry TenantClass pci allows (workloads.registries: europe-docker.pkg.dev/acme-pci/)"},
		{"a pci pod on another pool", func() (string, error) {
			return apply("pci-pool", fmt.Sprintf(restricted, "europe-docker.pkg.dev/acme-pci/web", "  nodeSelector: {cloud.google.com/gke-nodepool: general}"), alice, "create", "-n", "cards")
		}, "spec.nodeSelector: TenantClass pci runs its pods on its node pool (cloud.google.com/gke-nodepool=pci); a pod may not ask for other nodes"},
		{"a pci claim on standard-rwo", func() (string, error) {
			return apply("pci-pvc", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {storageClassName: standard-rwo, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n", alice, "create", "-n", "cards")
		}, "spec.storageClassName: standard-rwo is not a storage class TenantClass pci allows (workloads.storageClasses: premium-rwo)"},
		{"a pci pod as the class wants it", func() (string, error) {
			return apply("pci-ok", fmt.Sprintf(restricted, "europe-docker.pkg.dev/acme-pci/web", ""), alice, "create", "-n", "cards")
		}, ""},
	} {
		out, err := c.run()
		if c.want == "" && err != nil {
			t.Errorf("%s: refused: %v\n%s", c.what, err, out)
		}
		if c.want != "" && (err == nil || !strings.Contains(strings.Join(strings.Fields(out), " "), c.want)) {
			t.Errorf("%s: want refused with %q: err=%v\n%s", c.what, c.want, err, out)
		}
	}
	out, err = kubectl("get", "pod", "web", "-n", "cards", "-o", "jsonpath={.spec.nodeSelector} {.spec.tolerations}")
	if err != nil || !strings.Contains(out, `"cloud.google.com/gke-nodepool":"pci"`) || !strings.Contains(out, `"value":"pci"`) {
		t.Errorf("the pci pod did not get the pool's node selector and toleration: %v %s", err, out)
	}

	other := filepath.Join(tmp, "other-team.yaml")
	Must(t, os.WriteFile(other, []byte("apiVersion: platform.selfserve.dev/v1alpha1\nkind: TenantNamespace\nmetadata: {name: search}\nspec: {team: search, owners: [{kind: Group, name: team-search}]}\n"), 0o600))
	if out, err := alice("apply", "-f", other); err == nil || !strings.Contains(out, "not a member of Team search") {
		t.Errorf("alice claiming a namespace for another team: err=%v\n%s", err, out)
	}

	// payments' Argo CD deployer lives in argocd: another team cannot take that namespace and
	// mint the deployer's tokens.
	mallory := func(args ...string) (string, error) {
		return kubectl(append([]string{"--kubeconfig", filepath.Join(dir, "mallory.kubeconfig")}, args...)...)
	}
	grab := filepath.Join(tmp, "argocd.yaml")
	Must(t, os.WriteFile(grab, []byte("apiVersion: platform.selfserve.dev/v1alpha1\nkind: TenantNamespace\nmetadata: {name: argocd}\nspec: {team: search, owners: [{kind: Group, name: team-search}]}\n"), 0o600))
	if out, err := mallory("apply", "-f", grab); err == nil || !strings.Contains(out, "holds ServiceAccount argocd/payments-deployer, a member of Team payments") {
		t.Errorf("mallory taking the namespace of payments' deployer: err=%v\n%s", err, out)
	}

	// Beyond the class: admitted with a warning, waits; alice cannot approve; the admin does.
	beyond := filepath.Join(tmp, "payments-admin.yaml")
	Must(t, os.WriteFile(beyond, []byte("apiVersion: platform.selfserve.dev/v1alpha1\nkind: TenantNamespace\nmetadata: {name: payments-admin}\nspec:\n  team: payments\n  owners: [{kind: Group, name: team-payments}]\n  roleBindings: [{clusterRole: admin, subjects: [{kind: Group, name: team-payments-leads}]}]\n"), 0o600))
	if out, err := alice("apply", "-f", beyond); err != nil || !strings.Contains(out, "Warning:") || !strings.Contains(out, "needs a platform admin's approval") {
		t.Errorf("alice asking to bind admin: err=%v\n%s", err, out)
	}
	clusterAdmin := filepath.Join(tmp, "payments-root.yaml")
	Must(t, os.WriteFile(clusterAdmin, []byte("apiVersion: platform.selfserve.dev/v1alpha1\nkind: TenantNamespace\nmetadata: {name: payments-root}\nspec:\n  team: payments\n  owners: [{kind: Group, name: team-payments}]\n  roleBindings: [{clusterRole: cluster-admin, subjects: [{kind: Group, name: team-payments}]}]\n"), 0o600))
	if out, err := alice("apply", "-f", clusterAdmin); err == nil || !strings.Contains(out, "spec.roleBindings[0].clusterRole") || !strings.Contains(out, "cluster-admin is never bound") {
		t.Errorf("alice asking for cluster-admin: err=%v\n%s", err, out)
	}
	var hash string
	Eventually(t, 30*time.Second, "payments-admin shows AwaitingApproval", func() bool {
		out, err := kubectl("get", "tenantnamespace", "payments-admin", "--no-headers")
		f := strings.Fields(out)
		hash, _ = kubectl("get", "tenantnamespace", "payments-admin", "-o", "jsonpath={.status.pendingApproval.specHash}")
		return err == nil && len(f) >= 5 && f[4] == "AwaitingApproval" && len(hash) == 32
	})
	self := fmt.Sprintf(`{"status":{"approval":{"specHash":%q,"decision":"Approved","by":"alice@example.com"}}}`, hash)
	if out, err := alice("patch", "tenantnamespace", "payments-admin", "--subresource=status", "--type=merge", "-p", self); err == nil {
		t.Errorf("alice approved her own request:\n%s", out)
	}
	who, err := kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	Must(t, err)
	approve := fmt.Sprintf(`{"status":{"approval":{"specHash":%q,"decision":"Approved","by":%q}}}`, hash, who)
	if out, err := kubectl("patch", "tenantnamespace", "payments-admin", "--subresource=status", "--type=merge", "-p", approve); err != nil {
		t.Errorf("the admin approving: %v\n%s", err, out)
	}
	if out, err := kubectl("wait", "--for=condition=Ready", "--timeout=60s", "tenantnamespace/payments-admin"); err != nil {
		t.Errorf("the approved tenant does not become Ready: %v\n%s", err, out)
	}
	if out, err := kubectl("get", "rolebinding", "selfserve-admin", "-n", "payments-admin", "-o", "name"); err != nil {
		t.Errorf("the approved binding is not there: %v\n%s", err, out)
	}

	// The operator's webhook answers through the apiserver: a second default class is refused.
	second := filepath.Join(tmp, "second-default.yaml")
	Must(t, os.WriteFile(second, []byte("apiVersion: platform.selfserve.dev/v1alpha1\nkind: TenantClass\nmetadata: {name: second}\nspec: {isDefault: true}\n"), 0o600))
	out, err = kubectl("apply", "-f", second)
	if err == nil || !strings.Contains(out, "spec.isDefault") {
		t.Errorf("a second default TenantClass: err=%v\n%s", err, out)
	}

	children, _ := ChildProcesses(sandbox.Process.Pid)
	if len(children) < 3 {
		t.Errorf("the sandbox runs %v; want etcd, kube-apiserver and kube-controller-manager", children)
	}
	Must(t, sandbox.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the sandbox did not exit cleanly on Ctrl-C: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the sandbox did not stop within a minute of Ctrl-C")
	}
	for pid, name := range children {
		if Alive(pid) {
			t.Errorf("%s (pid %d) outlived the sandbox", name, pid)
		}
	}
}
