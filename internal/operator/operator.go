package operator

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/controller/serviceslo"
	"github.com/selfserve-dev/selfserve/internal/controller/team"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantclass"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantnamespace"
	"github.com/selfserve-dev/selfserve/internal/controller/upgradepolicy"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/events"
	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/internal/metrics"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
	ssewebhook "github.com/selfserve-dev/selfserve/internal/webhook"
	"github.com/selfserve-dev/selfserve/internal/webhookcert"
)

// Options configure the manager. cmd/main.go fills them from flags.
type Options struct {
	// MetricsAddr is the metrics endpoint address; "0" disables it.
	MetricsAddr string
	// SecureMetrics serves metrics over HTTPS behind Kubernetes authentication and
	// authorization (TokenReview and SubjectAccessReview).
	SecureMetrics bool
	// ProbeAddr serves /healthz and /readyz.
	ProbeAddr string
	// PprofAddr serves Go's /debug/pprof profiles (heap, CPU, goroutines) over plain HTTP;
	// empty or "0" disables it. Bind it to localhost: profiles are not authenticated.
	PprofAddr string

	// LeaderElection makes one replica active at a time.
	LeaderElection bool
	// LeaderElectionNamespace holds the lease; empty means the namespace the pod runs in.
	LeaderElectionNamespace string

	// EnableWebhooks serves the admission webhooks.
	EnableWebhooks bool
	// WebhookHost, WebhookPort and WebhookCertDir say where and with which certificate
	// (tls.crt, tls.key) the webhooks are served.
	WebhookHost    string
	WebhookPort    int
	WebhookCertDir string
	// WebhookCertSecret, when set, makes the operator issue and rotate its own serving
	// certificate (kept in this Secret, shared by the replicas) instead of reading
	// WebhookCertDir, and inject its CA into ValidatingWebhooks and MutatingWebhooks. The
	// certificate is valid for WebhookService's DNS names and WebhookCertHosts.
	WebhookCertSecret  types.NamespacedName
	WebhookService     types.NamespacedName
	WebhookCertHosts   []string
	ValidatingWebhooks string
	MutatingWebhooks   string

	// DatadogSecret is the operator's Datadog Secret (api-key, app-key, site).
	DatadogSecret types.NamespacedName

	// GracefulShutdownTimeout bounds how long running reconciles may take to finish on stop.
	GracefulShutdownTimeout time.Duration

	// OperatorNamespace is the namespace the operator runs in; no tenant may manage it.
	OperatorNamespace string
	// ProtectedNamespaces are further namespaces no tenant may manage (default and kube-*
	// always are).
	ProtectedNamespaces []string
	// TenantWorkers is how many TenantNamespaces are reconciled at once.
	TenantWorkers int
	// AdminGroups and AdminUsers are platform admins: they may request any tenant and edit
	// managed children. The operator's own identity belongs in AdminUsers.
	AdminGroups []string
	AdminUsers  []string
	// DNS says where the node-local DNS cache and the cluster DNS are.
	DNS nodelocaldns.Settings
	// DNSInjection picks how pods get their DNS settings: "policy" (the MutatingAdmissionPolicy
	// selfserve-tenant-dns, no webhook round trip, also while the operator is down), "webhook"
	// (the pod DNS webhook), or "auto" (the default): the policy where the apiserver serves
	// MutatingAdmissionPolicy (Kubernetes 1.36 and later), the webhook elsewhere.
	DNSInjection string

	// ClusterName names this cluster in Datadog: every SLO and monitor the operator manages is
	// tagged cluster:<name>, which the rollout gates of a downstream cluster select. Empty: no
	// such tag.
	ClusterName string

	// DatadogPoll is how often Datadog is re-read for drift and error budgets.
	DatadogPoll time.Duration
	// DatadogTimeout bounds one Datadog request, retries included.
	DatadogTimeout time.Duration
	// DatadogSettle is how long after a create's time-out Datadog may still store it or not
	// list it yet (datadog.Settings.Settle).
	DatadogSettle time.Duration
	// DatadogOverride, when set, replaces the Secret and the environment (tests, benchmarks).
	DatadogOverride *datadog.Settings
	// SLOWorkers is how many ServiceSLOs are reconciled at once.
	SLOWorkers int
	// SkipNameValidation lets a test process start the manager more than once.
	SkipNameValidation bool
	// Clock is the time source of the upgrade policy controller; nil means time.Now.
	Clock func() time.Time
	// GKEEndpoint overrides the GKE API endpoint (a fake, a proxy); empty means Google's, with
	// Application Default Credentials (Workload Identity in GKE).
	GKEEndpoint string
	// GKETimeout bounds one sync with GKE (a read and a set); zero means 30 s. A GKE that does
	// not answer must not hold a worker for ever.
	GKETimeout time.Duration
}

// DefaultOptions are the defaults of cmd/main.go's flags, except that the self-managed webhook
// certificate is off (WebhookCertSecret empty): cmd/main.go turns it on, tests and the sandbox
// bring envtest's certificate.
func DefaultOptions() Options {
	return Options{
		MetricsAddr:             ":8443",
		SecureMetrics:           true,
		ProbeAddr:               ":8081",
		EnableWebhooks:          true,
		WebhookPort:             9443,
		WebhookService:          types.NamespacedName{Namespace: "selfserve-system", Name: "selfserve-webhook-service"},
		ValidatingWebhooks:      "selfserve-validating-webhook-configuration",
		MutatingWebhooks:        "selfserve-mutating-webhook-configuration",
		DatadogSecret:           types.NamespacedName{Namespace: "selfserve-system", Name: "selfserve-datadog"},
		GracefulShutdownTimeout: 30 * time.Second,
		OperatorNamespace:       "selfserve-system",
		TenantWorkers:           16,
		AdminGroups:             []string{"system:masters"},
		AdminUsers:              []string{"system:serviceaccount:selfserve-system:selfserve-controller-manager"},
		DNS:                     nodelocaldns.DefaultSettings(),
		DNSInjection:            "auto",
		DatadogPoll:             10 * time.Minute,
		DatadogTimeout:          datadog.DefaultTimeout,
		DatadogSettle:           datadog.DefaultSettle,
		SLOWorkers:              8,
	}
}

// Scheme returns a scheme with the Kubernetes built-in kinds and selfserve's kinds.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(platformv1alpha1.AddToScheme(s))
	return s
}

// Leader election keeps a Lease in the operator's namespace and records a core Event there when
// a replica takes it (the install e2e test fails without that right); the secure metrics
// endpoint asks the apiserver who the caller is and whether it may read /metrics.
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=selfserve-system,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",namespace=selfserve-system,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// NewManager builds the manager with its probes, webhooks and controllers.
func NewManager(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	// HTTP/2 is disabled on the servers the operator exposes (CVE-2023-44487 and
	// CVE-2023-39325, "rapid reset"), as kubebuilder projects do.
	disableHTTP2 := func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }

	metricsOpts := metricsserver.Options{
		BindAddress:   opts.MetricsAddr,
		SecureServing: opts.SecureMetrics,
		TLSOpts:       []func(*tls.Config){disableHTTP2},
	}
	if opts.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	gracefulShutdown := opts.GracefulShutdownTimeout
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	nodePools, err := servesMutatingAdmissionPolicy(disco)
	if err != nil {
		return nil, err
	}
	dnsByPolicy, err := dnsInjectionByPolicy(opts.DNSInjection, nodePools)
	if err != nil {
		return nil, err
	}
	var routes []schema.GroupVersionKind
	if opts.EnableWebhooks {
		if routes, err = ssewebhook.ServedRoutes(disco); err != nil {
			return nil, err
		}
	}
	metrics.SetAdmissionByPolicy("dns", dnsByPolicy)
	metrics.SetAdmissionByPolicy("node_pool", nodePools)
	mgrOpts := ctrl.Options{
		Scheme:                 Scheme(),
		Metrics:                metricsOpts,
		HealthProbeBindAddress: opts.ProbeAddr,
		PprofBindAddress:       opts.PprofAddr,
		// The Lease itself is leaseLock's (below), which names it and its namespace.
		LeaderElection:                opts.LeaderElection,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &gracefulShutdown,
		Cache:                         cacheOptions(opts.DNS, nodePools, routes),
		Controller:                    config.Controller{SkipNameValidation: &opts.SkipNameValidation},
	}
	if opts.LeaderElection {
		lock, err := leaseLock(cfg, opts)
		if err != nil {
			return nil, err
		}
		mgrOpts.LeaderElectionResourceLockInterface = lock
	}
	var certs *webhookcert.Manager
	if opts.EnableWebhooks {
		tlsOpts := []func(*tls.Config){disableHTTP2}
		if opts.WebhookCertSecret.Name != "" {
			certs = &webhookcert.Manager{
				Secret:             opts.WebhookCertSecret,
				Hosts:              append(webhookcert.ServiceHosts(opts.WebhookService), opts.WebhookCertHosts...),
				ValidatingWebhooks: opts.ValidatingWebhooks,
				MutatingWebhooks:   opts.MutatingWebhooks,
			}
			tlsOpts = append(tlsOpts, func(c *tls.Config) { c.GetCertificate = certs.GetCertificate })
		}
		mgrOpts.WebhookServer = webhook.NewServer(webhook.Options{
			Host:    opts.WebhookHost,
			Port:    opts.WebhookPort,
			CertDir: opts.WebhookCertDir,
			TLSOpts: tlsOpts,
		})
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if certs != nil {
		certs.Reader, certs.Client = mgr.GetAPIReader(), mgr.GetClient()
		if err := mgr.Add(certs); err != nil {
			return nil, err
		}
	}

	if err := tenancy.IndexByTeam(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return nil, fmt.Errorf("indexing tenants by team: %w", err)
	}
	// Events whose notes differ stay apart (client-go's recorder folds them into one series).
	recorder := events.NewRecorder(mgr.GetClient(), mgr.GetScheme(), "selfserve")
	if err := mgr.Add(recorder); err != nil {
		return nil, err
	}
	// One inventory of Datadog for the ServiceSLOs' objects and the tenants' baseline monitors,
	// read in one batch per poll; one connection (and pacer) for both.
	inventory := datadog.NewInventory()
	conn := &datadog.Connection{Reader: mgr.GetAPIReader(), Secret: opts.DatadogSecret, Pacer: datadog.NewPacer(), Override: opts.DatadogOverride,
		Timeout: opts.DatadogTimeout, Settle: opts.DatadogSettle}
	tenants := &tenantnamespace.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  recorder,
		Options: tenantnamespace.Options{
			OperatorNamespace:   opts.OperatorNamespace,
			ProtectedNamespaces: opts.ProtectedNamespaces,
			Workers:             opts.TenantWorkers,
			DNS:                 opts.DNS,
			DNSByPolicy:         dnsByPolicy,
		},
		Monitoring: &tenantnamespace.Monitoring{Conn: conn, Inventory: inventory, Poll: opts.DatadogPoll, ClusterName: opts.ClusterName},
	}
	if err := tenants.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the TenantNamespace controller: %w", err)
	}
	metrics.CountTenants(mgr.GetClient())
	classes := &tenantclass.Reconciler{Client: mgr.GetClient(), Recorder: recorder}
	if err := classes.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the TenantClass controller: %w", err)
	}
	if err := (&tenantclass.PolicyReconciler{Client: mgr.GetClient(), NodePools: nodePools}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the TenantClass policy controller: %w", err)
	}
	// The namespaces labelled for a team that the operator does not manage (those tenants
	// released, SREs' own) are not in the manager's cache; the Teams read them at every reconcile
	// (released ones hold places, SLOs there join the dashboard), and a list from the apiserver
	// scans every namespace of the cluster (at 10,000 tenants an eighth of kube-apiserver's CPU).
	// A cache of their metadata alone holds them.
	teamLabelled, err := labels.NewRequirement(platformv1alpha1.LabelTeam, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	notManaged, err := labels.NewRequirement(platformv1alpha1.LabelManagedBy, selection.NotEquals, []string{platformv1alpha1.ManagedByValue})
	if err != nil {
		return nil, err
	}
	unmanaged, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultLabelSelector: labels.NewSelector().Add(*teamLabelled, *notManaged),
		DefaultTransform:     cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, fmt.Errorf("the cache of team namespaces the operator does not manage: %w", err)
	}
	if err := mgr.Add(unmanaged); err != nil {
		return nil, err
	}
	teams := &team.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Unmanaged: unmanaged, Recorder: recorder,
		Protected: opts.protected(), Dashboards: &team.Dashboards{Conn: conn, Inventory: inventory}}
	if err := teams.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Team controller: %w", err)
	}
	slos := &serviceslo.Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Recorder:     recorder,
		Conn:         conn,
		Inventory:    inventory,
		Poll:         opts.DatadogPoll,
		Workers:      opts.SLOWorkers,
		ClusterName:  opts.ClusterName,
		AfterRefresh: []func(context.Context){tenants.AfterRefresh, teams.AfterRefresh},
	}
	if err := slos.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the ServiceSLO controller: %w", err)
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	policies := &upgradepolicy.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Discovery: disco, Recorder: recorder,
		Conn: slos.Conn, Now: clock, GatePoll: opts.DatadogPoll,
		GKE: gke.Lazy(opts.GKEEndpoint), GKETimeout: opts.GKETimeout,
	}
	if err := policies.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the ClusterUpgradePolicy controller: %w", err)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	ready := healthz.Ping
	if opts.EnableWebhooks {
		if err := ssewebhook.SetupTenantClassWebhook(mgr); err != nil {
			return nil, fmt.Errorf("setting up TenantClass webhook: %w", err)
		}
		if err := ssewebhook.SetupClusterUpgradePolicyWebhook(mgr); err != nil {
			return nil, fmt.Errorf("setting up ClusterUpgradePolicy webhook: %w", err)
		}
		if err := ssewebhook.SetupServiceSLOWebhook(mgr); err != nil {
			return nil, fmt.Errorf("setting up ServiceSLO webhook: %w", err)
		}
		access := ssewebhook.Access{
			AdminGroups: opts.AdminGroups,
			AdminUsers:  opts.AdminUsers,
			// The operator's namespace is protected like default and kube-*.
			ProtectedNamespaces: opts.protected(),
		}
		if err := ssewebhook.SetupTeamWebhook(mgr, access); err != nil {
			return nil, fmt.Errorf("setting up Team webhook: %w", err)
		}
		if err := ssewebhook.SetupTenantNamespaceWebhook(mgr, access, opts.DNS); err != nil {
			return nil, fmt.Errorf("setting up TenantNamespace webhook: %w", err)
		}
		mgr.GetWebhookServer().Register(ssewebhook.ChildGuardPath, &webhook.Admission{
			Handler: &ssewebhook.ChildGuard{Access: access, APIReader: mgr.GetAPIReader()},
		})
		mgr.GetWebhookServer().Register(ssewebhook.ApprovalPath, &webhook.Admission{Handler: &ssewebhook.ApprovalGuard{Access: access}})
		if err := ssewebhook.IndexHosts(context.Background(), mgr.GetFieldIndexer(), routes); err != nil {
			return nil, fmt.Errorf("indexing Ingresses and routes by host: %w", err)
		}
		// The Lease of recent host claims is read and written at the apiserver, never cached.
		records, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), HTTPClient: mgr.GetHTTPClient(), Mapper: mgr.GetRESTMapper()})
		if err != nil {
			return nil, err
		}
		mgr.GetWebhookServer().Register(ssewebhook.HostGuardPath, &webhook.Admission{Handler: &ssewebhook.HostGuard{
			Reader: tenancy.CacheFirst{Cache: mgr.GetClient(), API: mgr.GetAPIReader()}, Claims: mgr.GetCache(),
			Records: records, Namespace: opts.OperatorNamespace, Routes: routes,
		}})
		mgr.GetWebhookServer().Register(ssewebhook.PodDNSPath, &ssewebhook.PodDNS{Reader: mgr.GetClient(), DNS: opts.DNS})
		// Ready only once the webhook server answers, so the Service never routes admission
		// requests to a replica that would refuse them.
		started := mgr.GetWebhookServer().StartedChecker()
		ready = started
		if certs != nil {
			ready = func(req *http.Request) error { return errors.Join(certs.Loaded(req), started(req)) }
		}
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return nil, err
	}
	return mgr, nil
}

// validate refuses durations the operator cannot work with: a poll interval of zero would
// read Datadog in a loop, a negative one panics.
func (o Options) validate() error {
	switch {
	case o.DatadogPoll <= 0:
		return fmt.Errorf("--datadog-poll-interval must be positive, not %s", o.DatadogPoll)
	case o.DatadogTimeout <= 0:
		return fmt.Errorf("--datadog-timeout must be positive, not %s", o.DatadogTimeout)
	case o.DatadogSettle < 0:
		return fmt.Errorf("--datadog-settle-window may not be negative (%s)", o.DatadogSettle)
	}
	return nil
}

// leaseLock is the Lease the replicas elect a leader with, as controller-runtime would make it
// (in LeaderElectionNamespace, else the operator's namespace; the same name), but with no Event
// recorder: client-go records a LeaderElection Event at every change of leader, a write at every
// failover (and every rollout) that tells nothing the log does not ("successfully acquired
// lease").
func leaseLock(cfg *rest.Config, opts Options) (resourcelock.Interface, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	ns := cmp.Or(opts.LeaderElectionNamespace, opts.OperatorNamespace)
	id := host + "_" + string(uuid.NewUUID())
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, ns, leaderElectionID,
		resourcelock.ResourceLockConfig{Identity: id}, rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election"), leaderRenewDeadline)
	if err != nil {
		return nil, fmt.Errorf("leader election lease: %w", err)
	}
	return lock, nil
}

// leaderElectionID names the Lease; leaderRenewDeadline is controller-runtime's default.
const (
	leaderElectionID    = "selfserve.platform.selfserve.dev"
	leaderRenewDeadline = 10 * time.Second
)

// cacheOptions scope the cache of the kinds the operator manages to the objects it manages:
// in a cluster with thousands of namespaces and bindings, only the tenants' own are held in
// memory and watched. The apiserver is asked directly about anything else.
func cacheOptions(dns nodelocaldns.Settings, nodePools bool, routes []schema.GroupVersionKind) cache.Options {
	managed := labels.SelectorFromSet(labels.Set{platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue})
	opts := cache.Options{ByObject: map[client.Object]cache.ByObject{
		// Only the node-local-dns DaemonSet and the cluster DNS Service.
		&appsv1.DaemonSet{}: {Label: dns.DaemonSetSelector, Namespaces: map[string]cache.Config{dns.DaemonSetNamespace: {}}},
		&corev1.Service{}: {
			Field:      fields.OneTermEqualSelector("metadata.name", dns.ClusterDNSService.Name),
			Namespaces: map[string]cache.Config{dns.ClusterDNSService.Namespace: {}},
		},
		// The operator's own kinds: their managed fields (a few KiB each: the requester's, the
		// GitOps tool's, the operator's status) are never read here, so they are not kept. The
		// tenants, thousands of them, also share the strings they all repeat.
		&platformv1alpha1.TenantNamespace{}:      {Transform: tenantnamespace.CompactTenant},
		&platformv1alpha1.Team{}:                 {Transform: cache.TransformStripManagedFields()},
		&platformv1alpha1.TenantClass{}:          {Transform: cache.TransformStripManagedFields()},
		&platformv1alpha1.ServiceSLO{}:           {Transform: cache.TransformStripManagedFields()},
		&platformv1alpha1.ClusterUpgradePolicy{}: {Transform: cache.TransformStripManagedFields()},
		// Nodes as their kubelet versions, which the upgrade policies report.
		&corev1.Node{}: {Transform: upgradepolicy.NodeVersionOnly},
		// Namespaces are kept whole: the Retain deletion reads what the operator applied to them.
		&corev1.Namespace{}: {Label: managed},
		// The tenants' children are kept as digests of what the operator applied (drift is a
		// digest that differs) with their metadata and the quota's usage: four per tenant, they
		// were most of the heap.
		&rbacv1.RoleBinding{}:         {Label: managed, Transform: tenantnamespace.DigestChild},
		&corev1.ResourceQuota{}:       {Label: managed, Transform: tenantnamespace.DigestChild},
		&corev1.LimitRange{}:          {Label: managed, Transform: tenantnamespace.DigestChild},
		&networkingv1.NetworkPolicy{}: {Label: managed, Transform: tenantnamespace.DigestChild},
		// The workload policy's binding of each TenantClass (and the node pool one, below).
		&admissionregistrationv1.ValidatingAdmissionPolicyBinding{}: {Label: managed, Transform: cache.TransformStripManagedFields()},
	}}
	// Ingresses and Gateway API routes, every namespace's, as their hosts only: the host
	// webhook's index (held only when the webhooks are served).
	opts.ByObject[&networkingv1.Ingress{}] = cache.ByObject{Transform: ssewebhook.IngressHosts}
	for _, gvk := range routes {
		route := &unstructured.Unstructured{}
		route.SetGroupVersionKind(gvk)
		opts.ByObject[route] = cache.ByObject{Transform: ssewebhook.RouteHosts}
	}
	if nodePools {
		opts.ByObject[&admissionregistrationv1.MutatingAdmissionPolicyBinding{}] = cache.ByObject{Label: managed, Transform: cache.TransformStripManagedFields()}
	}
	return opts
}

// Run builds the manager and runs it until ctx is cancelled.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	mgr, err := NewManager(cfg, opts)
	if err != nil {
		return err
	}
	log := ctrl.LoggerFrom(ctx).WithName("setup")
	log.Info("Starting manager")
	return mgr.Start(ctx)
}

// servesMutatingAdmissionPolicy asks the apiserver whether it serves
// admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 and later). Below
// it, a class's node pool is enforced, not added to pods.
func servesMutatingAdmissionPolicy(dc discovery.DiscoveryInterface) (bool, error) {
	resources, err := dc.ServerResourcesForGroupVersion(admissionregistrationv1.SchemeGroupVersion.String())
	if err != nil {
		return false, fmt.Errorf("asking whether the apiserver serves MutatingAdmissionPolicy: %w", err)
	}
	for _, r := range resources.APIResources {
		if r.Name == "mutatingadmissionpolicybindings" {
			return true, nil
		}
	}
	ctrl.Log.Info("the apiserver serves no admissionregistration.k8s.io/v1 MutatingAdmissionPolicy: node pools are enforced, not added to pods")
	return false, nil
}

// dnsInjectionByPolicy resolves the DNSInjection option: true for the policy.
func dnsInjectionByPolicy(mode string, served bool) (bool, error) {
	switch mode {
	case "policy":
		if !served {
			return false, errors.New("--dns-injection=policy: the apiserver serves no admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 and later); use webhook or auto")
		}
		return true, nil
	case "webhook":
		return false, nil
	case "auto", "":
		ctrl.Log.Info("pod DNS settings", "by", map[bool]string{true: "admission policy selfserve-tenant-dns", false: "webhook"}[served])
		return served, nil
	}
	return false, fmt.Errorf("--dns-injection=%s: want auto, policy or webhook", mode)
}

// protected are the namespaces no tenant may take besides default and kube-*: the operator's
// own and the configured ones.
func (o Options) protected() tenancy.Protected {
	return append(tenancy.Protected{o.OperatorNamespace}, o.ProtectedNamespaces...)
}
