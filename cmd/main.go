// Command manager runs the selfserve operator.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	_ "time/tzdata" // maintenance windows need IANA zones even in a distroless image

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/selfserve-dev/selfserve/internal/operator"
)

func main() {
	opts := operator.DefaultOptions()
	var (
		datadogSecret  string
		certSecret     string
		webhookService string
		qps            float64
		burst          int
	)
	flag.StringVar(&opts.MetricsAddr, "metrics-bind-address", opts.MetricsAddr,
		"Address of the metrics endpoint (:8443 for HTTPS, :8080 for HTTP); 0 disables it.")
	flag.BoolVar(&opts.SecureMetrics, "metrics-secure", opts.SecureMetrics,
		"Serve metrics over HTTPS, allowed only to callers Kubernetes authorizes for /metrics.")
	flag.StringVar(&opts.ProbeAddr, "health-probe-bind-address", opts.ProbeAddr, "Address of /healthz and /readyz.")
	flag.StringVar(&opts.PprofAddr, "pprof-bind-address", opts.PprofAddr,
		"Address of Go's /debug/pprof profiles, unauthenticated (127.0.0.1:8082 with kubectl port-forward); empty disables them.")
	flag.BoolVar(&opts.LeaderElection, "leader-elect", opts.LeaderElection,
		"Elect a leader so that only one replica reconciles at a time.")
	flag.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", opts.LeaderElectionNamespace,
		"Namespace of the leader election lease; empty means the pod's namespace.")
	flag.BoolVar(&opts.EnableWebhooks, "enable-webhooks", envBool("ENABLE_WEBHOOKS", opts.EnableWebhooks),
		"Serve the admission webhooks (ENABLE_WEBHOOKS=false turns them off when running outside the cluster).")
	flag.IntVar(&opts.WebhookPort, "webhook-port", opts.WebhookPort, "Port of the webhook server.")
	flag.StringVar(&opts.WebhookCertDir, "webhook-cert-dir", opts.WebhookCertDir,
		"Folder with tls.crt and tls.key for the webhook server; empty means <temp>/k8s-webhook-server/serving-certs.")
	flag.StringVar(&certSecret, "webhook-cert-secret", "selfserve-system/selfserve-webhook-server-cert",
		"namespace/name of the Secret where the operator keeps the webhook CA and serving certificate it issues and rotates; empty reads --webhook-cert-dir instead (cert-manager).")
	flag.StringVar(&webhookService, "webhook-service", opts.WebhookService.String(),
		"namespace/name of the webhook Service; its DNS names go into the self-issued certificate.")
	flag.Func("webhook-cert-hosts", "Comma-separated extra DNS names or IP addresses for the self-issued webhook certificate.",
		func(v string) error { opts.WebhookCertHosts = splitList(v); return nil })
	flag.StringVar(&opts.ValidatingWebhooks, "validating-webhook-configuration", opts.ValidatingWebhooks,
		"ValidatingWebhookConfiguration the self-issued CA is injected into; empty skips it.")
	flag.StringVar(&opts.MutatingWebhooks, "mutating-webhook-configuration", opts.MutatingWebhooks,
		"MutatingWebhookConfiguration the self-issued CA is injected into; empty skips it.")
	flag.StringVar(&datadogSecret, "datadog-secret", opts.DatadogSecret.String(),
		"namespace/name of the Secret with the Datadog api-key, app-key and site; DD_API_KEY, DD_APP_KEY and DD_SITE fill what it lacks.")
	flag.Float64Var(&qps, "kube-api-qps", -1,
		"Client-side limit of requests per second to the apiserver; negative leaves the limiting to the apiserver's priority and fairness.")
	flag.IntVar(&burst, "kube-api-burst", 1000, "Client-side burst of requests to the apiserver when kube-api-qps is positive.")
	flag.StringVar(&opts.OperatorNamespace, "operator-namespace", envOr("POD_NAMESPACE", opts.OperatorNamespace),
		"Namespace the operator runs in (POD_NAMESPACE); no tenant may manage it.")
	flag.Func("protected-namespaces", "Comma-separated namespaces no tenant may manage, besides default, kube-* and the operator's own.",
		func(v string) error { opts.ProtectedNamespaces = splitList(v); return nil })
	flag.Func("admin-groups", "Comma-separated groups of platform admins, who may request any tenant and edit managed children (default system:masters).",
		func(v string) error { opts.AdminGroups = splitList(v); return nil })
	flag.Func("admin-users", "Comma-separated platform admin users; include the operator's own service account (default system:serviceaccount:selfserve-system:selfserve-controller-manager).",
		func(v string) error { opts.AdminUsers = splitList(v); return nil })
	flag.StringVar(&opts.DNS.NodeLocalIP, "node-local-dns-ip", opts.DNS.NodeLocalIP, "Address the NodeLocal DNSCache listens on.")
	flag.StringVar(&opts.DNSInjection, "dns-injection", opts.DNSInjection, "How pods get their NodeLocal DNSCache settings: policy (a MutatingAdmissionPolicy, Kubernetes 1.36 and later), webhook, or auto (the policy where the apiserver serves it).")
	flag.StringVar(&opts.DNS.ClusterDomain, "cluster-domain", opts.DNS.ClusterDomain, "The cluster's DNS domain.")
	flag.Func("cluster-dns-service", "namespace/name of the cluster DNS Service, the fallback nameserver (default kube-system/kube-dns).",
		func(v string) error {
			ns, name, ok := cutNamespacedName(v)
			if !ok {
				return fmt.Errorf("want namespace/name, got %q", v)
			}
			opts.DNS.ClusterDNSService = types.NamespacedName{Namespace: ns, Name: name}
			return nil
		})
	flag.StringVar(&opts.DNS.DaemonSetNamespace, "node-local-dns-namespace", opts.DNS.DaemonSetNamespace, "Namespace of the node-local-dns DaemonSet.")
	flag.Func("node-local-dns-selector", "Label selector of the node-local-dns DaemonSet (default k8s-app=node-local-dns).",
		func(v string) error {
			sel, err := labels.Parse(v)
			if err == nil {
				opts.DNS.DaemonSetSelector = sel
			}
			return err
		})
	flag.StringVar(&opts.ClusterName, "cluster-name", envOr("DD_CLUSTER_NAME", opts.ClusterName),
		"This cluster's name (default $DD_CLUSTER_NAME, as the Datadog Agent names it): every SLO and monitor the operator manages is tagged cluster:<name>, which a downstream cluster's ClusterUpgradePolicy rollout gates select.")
	flag.DurationVar(&opts.DatadogPoll, "datadog-poll-interval", opts.DatadogPoll,
		"How often Datadog is re-read (in a few batched calls for all ServiceSLOs) for drift and error budgets; jittered by 10%.")
	flag.DurationVar(&opts.DatadogTimeout, "datadog-timeout", opts.DatadogTimeout,
		"The longest one Datadog request may take, retries included; a create without an answer by then has an unknown outcome.")
	flag.DurationVar(&opts.DatadogSettle, "datadog-settle-window", opts.DatadogSettle,
		"How long after a create's time-out Datadog may still store it or not list it yet: nothing is created in its place, nor its ServiceSLO released, before a look-up after that.")
	flag.StringVar(&opts.GKEEndpoint, "gke-endpoint", opts.GKEEndpoint,
		"GKE API endpoint override (a proxy or a fake); empty uses Google's with Application Default Credentials.")
	flag.IntVar(&opts.SLOWorkers, "slo-workers", opts.SLOWorkers, "ServiceSLOs reconciled at once.")
	flag.IntVar(&opts.TenantWorkers, "tenant-workers", opts.TenantWorkers, "TenantNamespaces reconciled at once.")
	flag.DurationVar(&opts.GracefulShutdownTimeout, "graceful-shutdown-timeout", opts.GracefulShutdownTimeout,
		"How long running reconciles may take to finish on shutdown.")
	zapOpts := zap.Options{Development: false, TimeEncoder: zapcore.ISO8601TimeEncoder}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	if limit := memoryLimit(); limit > 0 {
		log.Info("Garbage collection keeps the heap under 90% of the container's memory limit", "limitBytes", limit)
	}

	if opts.ClusterName != "" && len(validation.IsDNS1123Label(opts.ClusterName)) > 0 {
		log.Error(nil, "Flag --cluster-name must be a DNS label (lower case letters, digits and '-'): it becomes the Datadog tag cluster:<name>", "value", opts.ClusterName)
		os.Exit(2)
	}
	ns, name, ok := cutNamespacedName(datadogSecret)
	if !ok {
		log.Error(nil, "Flag --datadog-secret must be namespace/name", "value", datadogSecret)
		os.Exit(2)
	}
	opts.DatadogSecret = types.NamespacedName{Namespace: ns, Name: name}
	if certSecret != "" {
		ns, name, ok := cutNamespacedName(certSecret)
		if !ok {
			log.Error(nil, "Flag --webhook-cert-secret must be namespace/name or empty", "value", certSecret)
			os.Exit(2)
		}
		opts.WebhookCertSecret = types.NamespacedName{Namespace: ns, Name: name}
	}
	if ns, name, ok := cutNamespacedName(webhookService); ok {
		opts.WebhookService = types.NamespacedName{Namespace: ns, Name: name}
	} else {
		log.Error(nil, "Flag --webhook-service must be namespace/name", "value", webhookService)
		os.Exit(2)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "Cannot load a kubeconfig or in-cluster config")
		os.Exit(1)
	}
	cfg.QPS = float32(qps)
	cfg.Burst = burst

	ctx := ctrl.SetupSignalHandler()
	if err := operator.Run(ctrl.LoggerInto(ctx, ctrl.Log), cfg, opts); err != nil {
		log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}

// memoryLimit makes the garbage collector work harder as the process nears 90% of the
// container's memory limit, given in bytes in MEMORY_LIMIT (the Deployment sets it from
// limits.memory). A burst, thousands of tenants applied at once, allocates far more than stays
// live: without a limit the heap may grow to twice the live data and the pod be OOM-killed while
// its live heap is a third of the limit. GOMEMLIMIT, when set, wins. It returns the limit set.
func memoryLimit() int64 {
	limit, err := strconv.ParseInt(os.Getenv("MEMORY_LIMIT"), 10, 64)
	if err != nil || limit <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit = limit / 10 * 9
	debug.SetMemoryLimit(limit)
	return limit
}

// envBool reads a boolean environment variable, falling back to def when unset or invalid.
func envBool(name string, def bool) bool {
	v, err := strconv.ParseBool(os.Getenv(name))
	if err != nil {
		return def
	}
	return v
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// envOr reads an environment variable, falling back to def when unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// cutNamespacedName splits "namespace/name".
func cutNamespacedName(s string) (namespace, name string, ok bool) {
	namespace, name, ok = strings.Cut(s, "/")
	return namespace, name, ok && namespace != "" && name != ""
}
