package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

var (
	cp        *controlplane.ControlPlane
	k8sClient client.Client
)

// TestMain starts one real kube-apiserver + etcd with the CRDs installed for every test here.
func TestMain(m *testing.M) {
	var err error
	cp, err = controlplane.Start(controlplane.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8sClient, err = cp.Client()
	code := 0
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	} else {
		code = m.Run()
	}
	if err := cp.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping control plane:", err)
	}
	os.Exit(code)
}

const validTenantNamespace = `
apiVersion: platform.selfserve.dev/v1alpha1
kind: TenantNamespace
metadata:
  name: placeholder
spec:
  team: payments
  owners:
    - kind: Group
      name: team-payments
`

const validTeam = `
apiVersion: platform.selfserve.dev/v1alpha1
kind: Team
metadata:
  name: placeholder
spec:
  members:
    - kind: Group
      name: team-payments
  classes: [standard]
  budget:
    maxNamespaces: 4
  notify: ["@slack-payments"]
`

const validTenantClass = `
apiVersion: platform.selfserve.dev/v1alpha1
kind: TenantClass
metadata:
  name: placeholder
spec:
  podSecurity:
    default: baseline
    minimum: baseline
`

const validServiceSLO = `
apiVersion: platform.selfserve.dev/v1alpha1
kind: ServiceSLO
metadata:
  name: placeholder
  namespace: default
spec:
  service: checkout
  indicator:
    metric:
      good: sum:requests.ok{service:checkout}.as_count()
      total: sum:requests{service:checkout}.as_count()
  objectives:
    - timeframe: 30d
      target: "99"
  alerting:
    tiers:
      - longWindow: 1h
        shortWindow: 5m
        burnRate: "14.4"
`

const validClusterUpgradePolicy = `
apiVersion: platform.selfserve.dev/v1alpha1
kind: ClusterUpgradePolicy
metadata:
  name: placeholder
spec:
  maintenanceWindows:
    - name: weekly
      daysOfWeek: [Tuesday]
      start: "05:00"
      duration: 4h
      timeZone: Europe/Berlin
  exclusions:
    - name: freeze
      start: "2026-12-18T00:00:00Z"
      end: "2027-01-04T00:00:00Z"
  gates:
    errorBudget:
      - teams: [payments]
        selector: {}
        minRemainingPercent: 10
    monitors:
      - tags: ["upgrade-gate:true"]
  provider:
    gke:
      project: acme-prod-4711
      location: europe-west1
      cluster: shared-prod
`

// TestValidManifestsAreAccepted guards the table below: each invalid case starts from one of
// these, so each must be accepted as it is.
func TestValidManifestsAreAccepted(t *testing.T) {
	for i, manifest := range []string{validTeam, validTenantNamespace, validTenantClass, validServiceSLO, validClusterUpgradePolicy} {
		obj := FromYAML(t, manifest, Set("metadata.name", fmt.Sprintf("valid-%d", i)))
		if err := k8sClient.Create(context.Background(), obj); err != nil {
			t.Errorf("%s rejected: %v", obj.GetKind(), err)
		}
	}
}

// TestInvalidManifestsAreRejectedWithFieldPath sends one invalid manifest per schema rule to the
// real apiserver and expects a rejection that names the field and says what is wrong.
func TestInvalidManifestsAreRejectedWithFieldPath(t *testing.T) {
	tns := func(mods ...Mod) string { return encode(validTenantNamespace, mods) }
	tc := func(mods ...Mod) string { return encode(validTenantClass, mods) }
	team := func(mods ...Mod) string { return encode(validTeam, mods) }
	slo := func(mods ...Mod) string { return encode(validServiceSLO, mods) }
	cup := func(mods ...Mod) string { return encode(validClusterUpgradePolicy, mods) }

	cases := []struct {
		name     string
		manifest string
		// update: create the valid base first, then send the manifest as an update.
		update bool
		// wantField is the field path the message must name; wantText a part of the reason.
		wantField, wantText string
	}{
		// TenantNamespace
		{name: "team is required", manifest: tns(Delete("spec.team")), wantField: "spec.team", wantText: "Required"},
		{name: "team must be a DNS label", manifest: tns(Set("spec.team", "Payments")), wantField: "spec.team", wantText: "should match"},
		{name: "team cannot change", update: true, manifest: tns(Set("spec.team", "search")), wantField: "spec.team", wantText: "team is immutable"},
		{name: "owners are required", manifest: tns(Set("spec.owners", "[]")), wantField: "spec.owners", wantText: "at least 1"},
		{name: "owner kind is User, Group or ServiceAccount", manifest: tns(Set("spec.owners[0].kind", "Robot")), wantField: "spec.owners[0].kind", wantText: "Unsupported value"},
		{name: "service account owner needs a namespace", manifest: tns(Set("spec.owners[0].kind", "ServiceAccount")), wantField: "spec.owners[0]", wantText: "namespace is required for a ServiceAccount"},
		{name: "user owner takes no namespace", manifest: tns(Set("spec.owners[0].namespace", "ci")), wantField: "spec.owners[0]", wantText: "not allowed for a User or Group"},
		{name: "network isolation is an enum", manifest: tns(Set("spec.networkIsolation", "Strict")), wantField: "spec.networkIsolation", wantText: "Unsupported value"},
		{name: "pod security level is an enum", manifest: tns(Set("spec.podSecurity", "strict")), wantField: "spec.podSecurity", wantText: "Unsupported value"},
		{name: "deletion policy is Retain or Delete", manifest: tns(Set("spec.deletionPolicy", "Orphan")), wantField: "spec.deletionPolicy", wantText: "Unsupported value"},
		{name: "ndots at least 1", manifest: tns(Set("spec.dns.ndots", "0")), wantField: "spec.dns.ndots", wantText: "greater than or equal to 1"},
		{name: "ndots at most 15", manifest: tns(Set("spec.dns.ndots", "16")), wantField: "spec.dns.ndots", wantText: "less than or equal to 15"},
		{name: "at most 29 extra search domains", manifest: tns(Set("spec.dns.searches", searchDomains(30))), wantField: "spec.dns.searches", wantText: "Too many"},
		{name: "search domain is a DNS name", manifest: tns(Set("spec.dns.searches", "[Bad_Domain]")), wantField: "spec.dns.searches[0]", wantText: "should match"},
		{name: "unknown resolver option", manifest: tns(Set("spec.dns.options", "[{name: debug}]")), wantField: "spec.dns.options[0].name", wantText: "Unsupported value"},
		{name: "timeout option needs a value", manifest: tns(Set("spec.dns.options", "[{name: timeout}]")), wantField: "spec.dns.options[0]", wantText: "need a value"},
		{name: "timeout option at most 30", manifest: tns(Set("spec.dns.options", `[{name: timeout, value: "60"}]`)), wantField: "spec.dns.options[0]", wantText: "between 1 and 30"},
		{name: "reserved label prefix", manifest: tns(Set("spec.labels", `{"platform.selfserve.dev/team": other}`)), wantField: "spec.labels", wantText: "set by the operator"},
		{name: "protected namespace name", manifest: tns(Set("metadata.name", "kube-tools")), wantField: "metadata.name", wantText: "protected namespaces"},
		{name: "name must be a namespace name", manifest: tns(Set("metadata.name", "team.payments")), wantField: "metadata.name", wantText: "becomes the namespace name"},
		{name: "quota needs at least one limit", manifest: tns(Set("spec.quota.hard", "{}")), wantField: "spec.quota.hard", wantText: "at least 1"},
		{name: "quota values are quantities", manifest: tns(Set("spec.quota.hard", "{requests.cpu: lots}")), wantField: "spec.quota.hard.requests.cpu", wantText: "should match"},
		{name: "a service account has no RBAC apiGroup", manifest: tns(Set("spec.owners", "[{kind: ServiceAccount, namespace: ci, name: deployer, apiGroup: rbac.authorization.k8s.io}]")),
			wantField: "spec.owners[0]", wantText: "apiGroup is rbac.authorization.k8s.io for a User or Group and empty for a ServiceAccount"},
		{name: "a subject's apiGroup is RBAC's", manifest: tns(Set("spec.owners", "[{kind: Group, name: team-payments, apiGroup: example.com}]")),
			wantField: "spec.owners[0].apiGroup", wantText: "Unsupported value"},
		{name: "one role binding per ClusterRole", manifest: tns(Set("spec.roleBindings", "[{clusterRole: view, subjects: [{kind: Group, name: a}]}, {clusterRole: view, subjects: [{kind: Group, name: b}]}]")), wantField: "spec.roleBindings[1]", wantText: "Duplicate value"},

		// TenantClass
		{name: "class default pod security weaker than minimum", manifest: tc(Set("spec.podSecurity", "{default: privileged, minimum: restricted}")), wantField: "spec.podSecurity", wantText: "must not be weaker than minimum"},
		{name: "only the identities that stand for everyone can be allowed as broad subjects", manifest: tc(Set("spec.allowedBroadSubjects", "[system:masters]")),
			wantField: "spec.allowedBroadSubjects[0]", wantText: "Unsupported value"},
		{name: "class default isolation must be allowed", manifest: tc(Set("spec.networkIsolation", "{default: None, allowed: [Team]}")), wantField: "spec.networkIsolation", wantText: "default must be one of allowed"},

		// Team
		{name: "team budget of zero namespaces", manifest: team(Set("spec.budget.maxNamespaces", "0")), wantField: "spec.budget.maxNamespaces", wantText: "greater than or equal to 1"},
		{name: "a team needs members", manifest: team(Set("spec.members", "[]")), wantField: "spec.members", wantText: "at least 1"},
		{name: "a team needs its classes listed", manifest: team(Delete("spec.classes")), wantField: "spec.classes", wantText: "Required value"},
		{name: "an empty class list allows nothing and is refused", manifest: team(Set("spec.classes", "[]")), wantField: "spec.classes", wantText: "at least 1"},
		{name: "team notify handles start with @", manifest: team(Set("spec.notify", "[slack-payments]")), wantField: "spec.notify[0]", wantText: "should match"},
		{name: "team member service account needs a namespace", manifest: team(Set("spec.members", "[{kind: ServiceAccount, name: deployer}]")), wantField: "spec.members[0]", wantText: "namespace is required"},

		// ServiceSLO
		{name: "a blank total query", manifest: slo(Set("spec.indicator.metric.total", `"   "`)), wantField: "spec.indicator.metric.total", wantText: "must not be blank"},
		{name: "a blank time-slice query", manifest: slo(Set("spec.indicator", `{timeSlice: {query: " ", comparator: "<", threshold: "0.5"}}`)), wantField: "spec.indicator.timeSlice.query", wantText: "must not be blank"},
		{name: "two indicator types", manifest: slo(Set("spec.indicator.monitors.ids", "[42]")), wantField: "spec.indicator", wantText: "exactly one of metric, timeSlice or monitors"},
		{name: "no indicator type", manifest: slo(Set("spec.indicator", "{}")), wantField: "spec.indicator", wantText: "exactly one of metric, timeSlice or monitors"},
		{name: "timeframe is 7d, 30d or 90d", manifest: slo(Set("spec.objectives[0].timeframe", "14d")), wantField: "spec.objectives[0].timeframe", wantText: "Unsupported value"},
		{name: "target below 100", manifest: slo(Set("spec.objectives[0].target", `"100"`)), wantField: "spec.objectives[0].target", wantText: "should match"},
		{name: "target above 0", manifest: slo(Set("spec.objectives[0].target", `"0"`)), wantField: "spec.objectives[0].target", wantText: "target must be above 0"},
		{name: "warning above target", manifest: slo(Set("spec.objectives[0].warning", `"98.5"`)), wantField: "spec.objectives[0].warning", wantText: "warning must be greater than target"},
		{name: "one objective per timeframe", manifest: slo(Set("spec.objectives", `[{timeframe: 30d, target: "99"}, {timeframe: 30d, target: "99.5"}]`)), wantField: "spec.objectives[1]", wantText: "Duplicate value"},
		{name: "burn rate at most 1/(1-target)", manifest: slo(Set("spec.alerting.tiers[0].burnRate", `"150"`)), wantField: "spec.alerting.tiers", wantText: "exhaust the whole error budget"},
		{name: "long window at most 48h", manifest: slo(Set("spec.alerting.tiers[0].longWindow", "49h")), wantField: "spec.alerting.tiers[0].longWindow", wantText: "between 1h and 48h"},
		{name: "short window shorter than long window", manifest: slo(Set("spec.alerting.tiers[0].shortWindow", "2h")), wantField: "spec.alerting.tiers[0].shortWindow", wantText: "shorter than longWindow"},
		{name: "alerting timeframe must be an objective's", manifest: slo(Set("spec.alerting.timeframe", "7d")), wantField: "spec.alerting.timeframe", wantText: "one of the objectives"},
		{name: "operator tags are reserved", manifest: slo(Set("spec.tags", "[team:search]")), wantField: "spec.tags", wantText: "set by the operator"},
		{name: "operator tags are reserved in any case", manifest: slo(Set("spec.tags", "[Selfserve-uid:0f2c]")), wantField: "spec.tags", wantText: "set by the operator"},
		{name: "cluster tag is reserved (a downstream's rollout gates read it)", manifest: slo(Set("spec.tags", "[Cluster:staging]")), wantField: "spec.tags", wantText: "set by the operator"},
		{name: "team tag is reserved in upper case", manifest: slo(Set("spec.tags", "[TEAM:search]")), wantField: "spec.tags", wantText: "set by the operator"},
		{name: "notify handles start with @", manifest: slo(Set("spec.alerting.notify", "[pagerduty-payments]")), wantField: "spec.alerting.notify[0]", wantText: "should match"},
		{name: "time slice comparator", manifest: slo(Set("spec.indicator", `{timeSlice: {query: "p95:latency{*}", comparator: "==", threshold: "0.5"}}`)), wantField: "spec.indicator.timeSlice.comparator", wantText: "Unsupported value"},
		{name: "monitor indicator needs IDs", manifest: slo(Set("spec.indicator", "{monitors: {ids: []}}")), wantField: "spec.indicator.monitors.ids", wantText: "at least 1"},
		{name: "priority 1 to 5", manifest: slo(Set("spec.alerting.priority", "6")), wantField: "spec.alerting.priority", wantText: "less than or equal to 5"},

		// ClusterUpgradePolicy
		{name: "IANA time zone", manifest: cup(Set("spec.maintenanceWindows[0].timeZone", "Europe/Berlinn")), wantField: "spec.maintenanceWindows[0].timeZone", wantText: "must be an IANA time zone name"},
		{name: "an error-budget gate names the teams it reads", manifest: cup(Delete("spec.gates.errorBudget[0].teams")), wantField: "spec.gates.errorBudget[0].teams", wantText: "Required value"},
		{name: "start is HH:MM", manifest: cup(Set("spec.maintenanceWindows[0].start", `"25:00"`)), wantField: "spec.maintenanceWindows[0].start", wantText: "should match"},
		{name: "window at least 1h", manifest: cup(Set("spec.maintenanceWindows[0].duration", "30m")), wantField: "spec.maintenanceWindows[0].duration", wantText: "between 1h and 168h"},
		{name: "days of week or rrule, not both", manifest: cup(Set("spec.maintenanceWindows[0].rrule", "FREQ=WEEKLY;BYDAY=TU")), wantField: "spec.maintenanceWindows[0]", wantText: "exactly one of daysOfWeek or rrule"},
		{name: "days of week or rrule, one of them", manifest: cup(Delete("spec.maintenanceWindows[0].daysOfWeek")), wantField: "spec.maintenanceWindows[0]", wantText: "exactly one of daysOfWeek or rrule"},
		{name: "day of week is a day", manifest: cup(Set("spec.maintenanceWindows[0].daysOfWeek", "[Funday]")), wantField: "spec.maintenanceWindows[0].daysOfWeek[0]", wantText: "Unsupported value"},
		{name: "rrule is weekly or monthly", manifest: cup(Delete("spec.maintenanceWindows[0].daysOfWeek"), Set("spec.maintenanceWindows[0].rrule", "FREQ=DAILY")), wantField: "spec.maintenanceWindows[0].rrule", wantText: "should match"},
		{name: "rrule parts appear once", manifest: cup(Delete("spec.maintenanceWindows[0].daysOfWeek"), Set("spec.maintenanceWindows[0].rrule", "FREQ=WEEKLY;BYDAY=MO;BYDAY=TU")), wantField: "spec.maintenanceWindows[0].rrule", wantText: "INTERVAL and BYDAY may each appear once"},
		{name: "rrule interval appears once", manifest: cup(Delete("spec.maintenanceWindows[0].daysOfWeek"), Set("spec.maintenanceWindows[0].rrule", "FREQ=WEEKLY;INTERVAL=2;INTERVAL=3;BYDAY=MO")), wantField: "spec.maintenanceWindows[0].rrule", wantText: "may each appear once"},
		{name: "no positions in a weekly rrule", manifest: cup(Delete("spec.maintenanceWindows[0].daysOfWeek"), Set("spec.maintenanceWindows[0].rrule", "FREQ=WEEKLY;BYDAY=1MO,TU")), wantField: "spec.maintenanceWindows[0].rrule", wantText: "a weekly rule takes days without a position"},
		{name: "rrule needs BYDAY", manifest: cup(Delete("spec.maintenanceWindows[0].daysOfWeek"), Set("spec.maintenanceWindows[0].rrule", "FREQ=MONTHLY;INTERVAL=2")), wantField: "spec.maintenanceWindows[0].rrule", wantText: "rrule needs BYDAY"},
		{name: "at least one window", manifest: cup(Set("spec.maintenanceWindows", "[]")), wantField: "spec.maintenanceWindows", wantText: "at least 1"},
		{name: "exclusion ends after it starts", manifest: cup(Set("spec.exclusions[0].end", `"2026-12-01T00:00:00Z"`)), wantField: "spec.exclusions[0].end", wantText: "end must be after start"},
		{name: "exclusion scope", manifest: cup(Set("spec.exclusions[0].scope", "NoPatchUpgrades")), wantField: "spec.exclusions[0].scope", wantText: "Unsupported value"},
		{name: "exclusion named gate", manifest: cup(Set("spec.exclusions[0].name", "gate")), wantField: "spec.exclusions[0].name", wantText: "gate is reserved"},
		{name: "error budget percentage at most 100", manifest: cup(Set("spec.gates.errorBudget[0].minRemainingPercent", "101")), wantField: "spec.gates.errorBudget[0].minRemainingPercent", wantText: "less than or equal to 100"},
		{name: "monitor gate needs tags", manifest: cup(Set("spec.gates.monitors[0].tags", "[]")), wantField: "spec.gates.monitors[0].tags", wantText: "at least 1"},
		{name: "soak time at most 720h", manifest: cup(Set("spec.rollout", "{upstreams: [{name: staging, gke: {project: acme-staging-42, location: europe-west1, cluster: staging}}], soakTime: 900h}")), wantField: "spec.rollout.soakTime", wantText: "between 1h and 720h"},
		{name: "a rollout holds minor or all upgrades", manifest: cup(Set("spec.rollout", "{upstreams: [{name: staging, gke: {project: acme-staging-42, location: europe-west1, cluster: staging}}], soakTime: 72h, scope: NoMinorOrNodeUpgrades}")), wantField: "spec.rollout.scope", wantText: "a rollout holds NoMinorUpgrades or NoUpgrades"},
		{name: "a rollout follows at least one upstream", manifest: cup(Set("spec.rollout", "{upstreams: [], soakTime: 72h}")), wantField: "spec.rollout.upstreams", wantText: "at least 1"},
		{name: "an upstream budget gate names teams", manifest: cup(Set("spec.rollout", "{upstreams: [{name: staging, gke: {project: acme-staging-42, location: europe-west1, cluster: staging}}], soakTime: 72h, gates: {errorBudget: [{teams: [], minRemainingPercent: 10}]}}")), wantField: "spec.rollout.gates.errorBudget[0].teams", wantText: "at least 1"},
		{name: "a cluster does not follow itself", manifest: cup(Set("spec.rollout", "{upstreams: [{name: self, gke: {project: acme-prod-4711, location: europe-west1, cluster: shared-prod}}], soakTime: 72h}")), wantField: "spec.rollout.upstreams", wantText: "a cluster cannot follow itself"},
		{name: "GKE project ID", manifest: cup(Set("spec.provider.gke.project", "P")), wantField: "spec.provider.gke.project", wantText: "should match"},
	}

	ctx := context.Background()
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			obj := FromYAML(t, tt.manifest)
			if obj.GetName() == "placeholder" {
				obj.SetName(fmt.Sprintf("invalid-%d", i))
			}
			if tt.update {
				base := FromYAML(t, baseOf(obj.GetKind()), Set("metadata.name", obj.GetName()))
				if err := k8sClient.Create(ctx, base); err != nil {
					t.Fatalf("creating the valid base: %v", err)
				}
				obj.SetResourceVersion(base.GetResourceVersion())
			}
			var err error
			if tt.update {
				err = k8sClient.Update(ctx, obj)
			} else {
				err = k8sClient.Create(ctx, obj)
			}
			if err == nil {
				t.Fatalf("accepted; want a rejection naming %s", tt.wantField)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v; want an Invalid error", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantField+":") || !strings.Contains(msg, tt.wantText) {
				t.Errorf("message %q\nwant the field path %q and the text %q", msg, tt.wantField, tt.wantText)
			}
		})
	}
}

// TestSamplesAreAccepted applies every manifest of config/samples (and its folders) as a user
// would.
func TestSamplesAreAccepted(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(filepath.Join(root, "config", "samples"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && filepath.Ext(path) == ".yaml" {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	script, err := LoadArgoCDHealth(root)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, f := range files {
		for _, obj := range ReadManifests(t, f) {
			kinds[obj.GetKind()] = true
			// The SLO sample lives in the tenant sample's namespace, which only the operator
			// would create; the schema is what is tested here.
			if obj.GetKind() == "ServiceSLO" {
				obj.SetNamespace("default")
			}
			if err := k8sClient.Create(context.Background(), obj); err != nil {
				t.Errorf("%s: %s %s rejected: %v", filepath.Base(f), obj.GetKind(), obj.GetName(), err)
				continue
			}
			// No operator runs here: read back, the object is new and not evaluated, which
			// kstatus and the Argo CD health check must read as in progress (the schema's
			// default observedGeneration 0), not as current.
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(obj.GroupVersionKind())
			if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
				t.Fatal(err)
			}
			if res, err := kstatus.Compute(got); err != nil || res.Status != kstatus.InProgressStatus {
				t.Errorf("%s %s just created: kstatus %v (%v), want InProgress", obj.GetKind(), obj.GetName(), res, err)
			}
			if h, err := RunArgoCDHealth(script, got.Object); err != nil || h.Status != "Progressing" {
				t.Errorf("%s %s just created: Argo CD %+v (%v), want Progressing", obj.GetKind(), obj.GetName(), h, err)
			}
		}
	}
	for _, k := range []string{"Team", "TenantClass", "TenantNamespace", "ServiceSLO", "ClusterUpgradePolicy"} {
		if !kinds[k] {
			t.Errorf("config/samples has no %s", k)
		}
	}
}

// TestExplainDocumentsEveryKind runs kubectl explain against the apiserver, as a newcomer would,
// and expects the field documentation written in the Go types.
func TestExplainDocumentsEveryKind(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	data, err := cp.Kubeconfig("explainer", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"tenantnamespace.spec.quota":                         "ResourceQuota",
		"tenantnamespace.spec.quota.hard":                    "Kubernetes quantities",
		"tenantclass.spec.podSecurity.minimum":               "weakest level a tenant may ask for",
		"serviceslo.spec.alerting.tiers.burnRate":            "1/(1-target)",
		"clusterupgradepolicy.spec.maintenanceWindows":       "recurring periods",
		"clusterupgradepolicy.spec.exclusions.scope":         "NoMinorOrNodeUpgrades",
		"tenantnamespace.spec.dns.nodeLocalCache":            "second nameserver",
		"serviceslo.spec.indicator":                          "exactly one of metric, timeSlice or",
		"clusterupgradepolicy.spec.maintenanceWindows.start": "does not exist",
	}
	for field, want := range cases {
		out, err := exec.Command(cp.Kubectl(), "--kubeconfig", kubeconfig, "explain", field).CombinedOutput()
		if err != nil {
			t.Errorf("kubectl explain %s: %v\n%s", field, err, out)
			continue
		}
		// explain wraps long lines; compare with whitespace collapsed.
		if got := strings.Join(strings.Fields(string(out)), " "); !strings.Contains(got, want) {
			t.Errorf("kubectl explain %s does not mention %q:\n%s", field, want, out)
		}
	}
}

// encode applies mods to a valid base manifest and returns the result as JSON (which is YAML).
func encode(manifest string, mods []Mod) string {
	obj := map[string]any{}
	if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
		panic(err)
	}
	for _, m := range mods {
		m(obj)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	return string(data)
}

func baseOf(kind string) string {
	return map[string]string{
		"TenantNamespace":      validTenantNamespace,
		"TenantClass":          validTenantClass,
		"Team":                 validTeam,
		"ServiceSLO":           validServiceSLO,
		"ClusterUpgradePolicy": validClusterUpgradePolicy,
	}[kind]
}

func searchDomains(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "d%d.example.com", i)
	}
	b.WriteString("]")
	return b.String()
}
