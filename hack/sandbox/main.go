// Command sandbox is `make run`: the whole of selfserve on one machine with no cluster and no
// Datadog account. It starts a local control plane (etcd, kube-apiserver,
// kube-controller-manager) with the CRDs and webhooks installed, a Datadog API fake (unless
// real Datadog keys are in the environment), and the operator with its webhooks; it writes
// kubeconfigs and prints how to apply the samples. Ctrl-C stops everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	"github.com/selfserve-dev/selfserve/test/gkefake"
)

func main() {
	dir := flag.String("dir", ".sandbox", "Folder for the kubeconfigs and the kubectl link.")
	datadogAddr := flag.String("datadog-addr", "127.0.0.1:0", "Address of the Datadog fake.")
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseDevMode(true)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dir, *datadogAddr); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir, datadogAddr string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}

	say("Starting the local control plane (etcd, kube-apiserver, kube-controller-manager %s) ...", controlplane.Version)
	cp, err := controlplane.Start(controlplane.Options{ControllerManager: true, Webhooks: true})
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping the control plane ...")
		_ = cp.Stop()
	}()

	settings, fakeURL, stopFake, err := startDatadog(datadogAddr)
	if err != nil {
		return err
	}
	defer stopFake()

	admin, err := cp.Client()
	if err != nil {
		return err
	}
	opts := operator.DefaultOptions()
	opts.MetricsAddr = "0"
	opts.ProbeAddr = "127.0.0.1:0"
	// Read Datadog every 30 s rather than every 10 min, so the tour shows budgets move.
	opts.DatadogPoll = 30 * time.Second
	// The sample policy's GKE cluster, and the staging cluster it follows (spec.rollout), both
	// served by the GKE fake. This cluster is "production" in Datadog's tags.
	srvGKE := gkefake.Samples(controlplane.Version).Start()
	defer srvGKE.Close()
	opts.GKEEndpoint = srvGKE.URL + "/"
	opts.ClusterName = "production"
	if fakeURL != "" {
		if err := stagingSLO(ctx, settings); err != nil {
			return err
		}
	}
	if err := writeDatadogSecret(ctx, admin, opts.DatadogSecret.Namespace, opts.DatadogSecret.Name, settings); err != nil {
		return err
	}

	if err := letDevelopersRequestTenants(ctx, admin); err != nil {
		return err
	}
	if err := standInClusterDNS(ctx, admin); err != nil {
		return err
	}

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(cp, kubeconfig, "sandbox-admin", "system:masters"); err != nil {
		return err
	}
	developer := filepath.Join(dir, "alice.kubeconfig")
	if err := writeKubeconfig(cp, developer, "alice@example.com", "team-payments"); err != nil {
		return err
	}
	// Another team's developer, to try what the guard rails refuse across teams.
	if err := writeKubeconfig(cp, filepath.Join(dir, "mallory.kubeconfig"), "mallory@example.com", "team-search"); err != nil {
		return err
	}
	link := filepath.Join(dir, "bin", "kubectl")
	_ = os.Remove(link)
	if err := os.Symlink(cp.Kubectl(), link); err != nil {
		return err
	}

	op, err := cp.StartOperator(ctrl.LoggerInto(ctx, ctrl.Log), opts)
	if err != nil {
		return err
	}
	defer func() {
		say("Stopping the operator ...")
		_ = op.Stop()
	}()

	banner(dir, fakeURL, srvGKE.URL, settings)
	<-ctx.Done()
	return nil
}

// startDatadog serves the Datadog fake, unless DD_API_KEY and DD_APP_KEY point the sandbox at a
// real account.
func startDatadog(addr string) (datadog.Settings, string, func(), error) {
	if os.Getenv(datadog.EnvAPIKey) != "" && os.Getenv(datadog.EnvAppKey) != "" {
		s := datadog.Settings{APIKey: os.Getenv(datadog.EnvAPIKey), AppKey: os.Getenv(datadog.EnvAppKey), Site: os.Getenv(datadog.EnvSite)}
		if s.Site == "" {
			s.Site = datadog.DefaultSite
		}
		return s, "", func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return datadog.Settings{}, "", nil, fmt.Errorf("listening for the Datadog fake: %w", err)
	}
	fake := datadogfake.New(datadogfake.Options{})
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := make(chan struct{})
	go measure(fake, stop)
	url := "http://" + ln.Addr().String()
	s := datadog.Settings{Site: datadog.DefaultSite, URL: url, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}
	return s, url, func() { close(stop); _ = srv.Close() }, nil
}

// measure plays Datadog's part of measuring: every few seconds each SLO in the fake gets an SLI
// and an error budget for its timeframes (a budget burning slowly from 90 %), so the tour shows
// the budget flowing back into kubectl.
func measure(fake *datadogfake.Server, stop <-chan struct{}) {
	start := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Second):
		}
		burnt := time.Since(start).Minutes()
		for _, slo := range fake.SLOs() {
			id, _ := slo["id"].(string)
			ths, _ := slo["thresholds"].([]any)
			for _, th := range ths {
				tm, _ := th.(map[string]any)
				tf, _ := tm["timeframe"].(string)
				remaining := max(90-burnt, -10)
				state := "ok"
				if remaining < 0 {
					state = "breached"
				}
				fake.SetSLOStatus(id, tf, datadogfake.SLOStatus{SLI: 99.95, ErrorBudgetRemaining: remaining, State: state})
			}
		}
	}
}

// writeDatadogSecret stores the settings in the operator's Secret, as an SRE would in a cluster.
func writeDatadogSecret(ctx context.Context, c client.Client, namespace, name string, s datadog.Settings) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		StringData: map[string]string{
			datadog.SecretKeyAPIKey: s.APIKey,
			datadog.SecretKeyAppKey: s.AppKey,
			datadog.SecretKeySite:   s.Site,
		},
	}
	if s.URL != "" {
		secret.StringData[datadog.SecretKeyURL] = s.URL
	}
	if err := c.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating the Datadog Secret: %w", err)
	}
	return nil
}

// letDevelopersRequestTenants installs the roles the project ships (config/rbac: ServiceSLOs
// for namespace admins, editors and viewers; the tenant requester role) and binds the requester
// role to every authenticated user, as SREs would to their developers' group; the admission
// webhook decides whose request stands.
func letDevelopersRequestTenants(ctx context.Context, c client.Client) error {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	for _, f := range []string{"serviceslo_editor_role.yaml", "serviceslo_viewer_role.yaml", "tenant_requester_role.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, "config", "rbac", f))
		if err != nil {
			return err
		}
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal(data, &role); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		role.Name = "selfserve-" + role.Name // the namePrefix of config/default
		if err := c.Create(ctx, &role); err != nil {
			return fmt.Errorf("creating ClusterRole %s: %w", role.Name, err)
		}
	}
	return c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "sandbox-developers-request-tenants"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "selfserve-tenant-requester"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "system:authenticated"}},
	})
}

// standInClusterDNS creates what a cluster's DNS add-ons would: the kube-dns Service and a
// node-local-dns DaemonSet reporting a ready pod (no node runs it here), so tenants that enable
// NodeLocal DNSCache get their pods injected as they would in a cluster.
func standInClusterDNS(ctx context.Context, c client.Client) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.10", Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}}},
	}
	if err := c.Create(ctx, svc); err != nil {
		return fmt.Errorf("creating the kube-dns Service: %w", err)
	}
	labels := map[string]string{"k8s-app": "node-local-dns"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "node-local-dns", Namespace: "kube-system", Labels: labels},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{
				{Name: "node-cache", Image: "registry.k8s.io/dns/k8s-dns-node-cache:1.26.4"}}},
		}},
	}
	if err := c.Create(ctx, ds); err != nil {
		return fmt.Errorf("creating the node-local-dns DaemonSet: %w", err)
	}
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}
	return c.Status().Update(ctx, ds)
}

func writeKubeconfig(cp *controlplane.ControlPlane, path, user string, groups ...string) error {
	data, err := cp.Kubeconfig(user, groups...)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "\n==> "+format+"\n", args...)
}

// banner tells the user what runs and what to type next. ReadyBanner is the line the e2e test
// waits for.
func banner(dir, fakeURL, gkeURL string, s datadog.Settings) {
	datadogLine := fmt.Sprintf("Datadog:        LOCAL FAKE at %s (in-memory; nothing reaches Datadog)\n"+
		"                For a real account: DD_API_KEY=... DD_APP_KEY=... DD_SITE=datadoghq.eu make run", fakeURL)
	if fakeURL == "" {
		datadogLine = fmt.Sprintf("Datadog:        REAL account at %s (keys from DD_API_KEY / DD_APP_KEY)", s.BaseURL())
	}
	fmt.Printf(`
================================================================================
 selfserve sandbox is running
--------------------------------------------------------------------------------
 Kubernetes:     local kube-apiserver + etcd + kube-controller-manager %s
                 (a real control plane, no nodes: pods are accepted but never run;
                 kube-dns and node-local-dns are stand-in objects reporting ready)
 %s
 GKE:            LOCAL FAKE at %s (cluster projects/acme-prod-4711/locations/europe-west1/clusters/shared-prod,
                 and the staging cluster it follows, which took the next minor 36 hours ago)
 Operator:       running here with its admission webhooks
 Kubeconfigs:    %s/kubeconfig          (cluster admin)
                 %s/alice.kubeconfig    (alice@example.com, group team-payments)
                 %s/mallory.kubeconfig  (mallory@example.com, group team-search)

 In another shell:
   export PATH=%s/bin:$PATH KUBECONFIG=%s/kubeconfig
   kubectl apply -f config/samples/
   kubectl wait --for=condition=Ready tenantnamespace/checkout
   kubectl apply -f config/samples/checkout/
   kubectl get teams,tenantclasses,tenantnamespaces,clusterupgradepolicies
   kubectl get serviceslos -n checkout
   kubectl explain tenantnamespace.spec.quota

 Ctrl-C stops everything.
================================================================================
%s
`, controlplane.Version, datadogLine, gkeURL, dir, dir, dir, dir, dir, ReadyBanner)
}

// stagingSLO puts into the Datadog fake the SLO staging's operator made for the payments team's
// checkout service, which production's rollout gate reads (tagged cluster:staging).
func stagingSLO(ctx context.Context, s datadog.Settings) error {
	req := datadogV1.NewServiceLevelObjectiveRequest("checkout availability (checkout/checkout-availability)",
		[]datadogV1.SLOThreshold{{Timeframe: datadogV1.SLOTIMEFRAME_THIRTY_DAYS, Target: 99.9}}, datadogV1.SLOTYPE_METRIC)
	req.SetQuery(datadogV1.ServiceLevelObjectiveQuery{Numerator: "sum:trace.http.request.hits{service:checkout,!http.status_class:5xx}.as_count()", Denominator: "sum:trace.http.request.hits{service:checkout}.as_count()"})
	req.SetTags([]string{datadog.TagClusterNamePrefix + "staging", "team:payments", "service:checkout", datadog.TagManaged})
	_, err := datadog.NewClient(s, datadog.NewPacer()).CreateSLO(ctx, *req)
	return err
}

// ReadyBanner is printed once everything is up.
const ReadyBanner = "sandbox ready"
