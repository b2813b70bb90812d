package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestGitOpsReapplyingTheSameManifestsCausesNoOperatorWrites applies the four samples with
// server-side apply as a GitOps controller would (its own field manager), lets the operator
// converge, and applies them again, the second time with the tracking annotation Argo CD adds.
// The second apply changes nothing the first one set (the operator owns none of those fields,
// so there is nothing to fight over), and the reconciles it triggers write nothing: not to the
// apiserver, not to Datadog.
func TestGitOpsReapplyingTheSameManifestsCausesNoOperatorWrites(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := controlplane.Start(controlplane.Options{ControllerManager: true, Webhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { Must(t, cp.Stop()) }()
	dd, ddURL, gkeEndpoint := sampleFakes(t)
	opts := controlplane.TestOptions()
	opts.EnableWebhooks = true
	opts.DatadogOverride = &datadog.Settings{Site: datadog.DefaultSite, URL: ddURL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}
	opts.GKEEndpoint = gkeEndpoint
	ctx := context.Background()
	op, err := cp.StartOperator(ctx, opts)
	Must(t, err)
	defer func() { _ = op.Stop() }()

	c := op.Manager.GetClient()
	CreateClusterDNS(t, c)
	SetNodeLocalDNS(t, c, 1, 1)

	tmp := t.TempDir()
	kc, err := cp.Kubeconfig("argocd", "system:masters")
	Must(t, err)
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	Must(t, os.WriteFile(kubeconfig, kc, 0o600))
	kubectl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cp.Kubectl(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// The manifests as a GitOps repository holds them: the SLO in the tenant's namespace.
	samples := filepath.Join(tmp, "samples")
	Must(t, os.MkdirAll(samples, 0o755))
	for f, folder := range map[string]string{"team": "", "tenantclass": "", "clusterupgradepolicy": "", "tenantnamespace": "", "serviceslo": "checkout"} {
		data, err := os.ReadFile(filepath.Join(root, "config", "samples", folder, "platform_v1alpha1_"+f+".yaml"))
		Must(t, err)
		Must(t, os.WriteFile(filepath.Join(samples, f+".yaml"), data, 0o600))
	}
	apply := func(annotate bool) {
		for _, f := range []string{"team", "tenantclass", "clusterupgradepolicy", "tenantnamespace", "serviceslo"} {
			file := filepath.Join(samples, f+".yaml")
			if annotate {
				data, err := os.ReadFile(file)
				Must(t, err)
				data = []byte(strings.ReplaceAll(string(data), "metadata:\n", "metadata:\n  annotations:\n    argocd.argoproj.io/tracking-id: selfserve:platform.selfserve.dev/x\n"))
				file = filepath.Join(tmp, f+"-tracked.yaml")
				Must(t, os.WriteFile(file, data, 0o600))
			}
			// Argo CD and Flux apply with their own field manager, and Argo CD with --force-conflicts.
			kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=argocd-controller", "-f", file)
			if f == "tenantnamespace" {
				Eventually(t, time.Minute, "the namespace exists", func() bool {
					return strings.TrimSpace(kubectl("get", "namespace", "checkout", "--ignore-not-found", "-o", "name")) != ""
				})
			}
		}
	}
	objects := []string{"team/payments", "tenantclass/standard", "clusterupgradepolicy/production", "tenantnamespace/checkout", "serviceslo/checkout-availability"}
	ready := func() bool {
		for _, o := range objects {
			out := kubectl("get", "-n", "checkout", o, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			if out != "True" {
				return false
			}
		}
		return true
	}
	specs := func() map[string]string {
		out := map[string]string{}
		for _, o := range objects {
			out[o] = kubectl("get", "-n", "checkout", o, "-o", "jsonpath={.spec}")
		}
		return out
	}

	apply(false)
	Eventually(t, 2*time.Minute, "the samples are Ready", ready)
	// The health Flux computes (kstatus) and Argo CD with the project's health check, for
	// every kind.
	script, err := LoadArgoCDHealth(root)
	Must(t, err)
	health := func(o string) (kstatus.Status, ArgoCDHealth) {
		var u unstructured.Unstructured
		Must(t, u.UnmarshalJSON([]byte(kubectl("get", "-n", "checkout", o, "-o", "json"))))
		res, err := kstatus.Compute(&u)
		Must(t, err)
		argo, err := RunArgoCDHealth(script, u.Object)
		Must(t, err)
		return res.Status, argo
	}
	for _, o := range objects {
		if k, argo := health(o); k != kstatus.CurrentStatus || argo.Status != "Healthy" {
			t.Errorf("%s: kstatus %s, Argo CD %+v; want Current and Healthy", o, k, argo)
		}
	}
	if got, err := controlplane.Metric("selfserve_tenants", map[string]string{"class": "standard", "ready": "True"}); err != nil || got != 1 {
		t.Errorf("selfserve_tenants{class=standard,ready=True} = %v (%v), want 1", got, err)
	}
	settled := func() int { return Settled(t, time.Minute, "the operator's writing", op.Requests.Writes) }
	before := settled()
	ddBefore := dd.Requests()
	specsBefore := specs()
	reconciled, err := op.Reconciles("tenantnamespace")
	Must(t, err)

	apply(true)
	Eventually(t, time.Minute, "the annotation change is reconciled", func() bool {
		n, _ := op.Reconciles("tenantnamespace")
		return n > reconciled
	})
	if w := op.Requests.WritesSince(before); settled() != before {
		t.Errorf("the operator wrote after the manifests were re-applied: %v", w)
	}
	if diff := cmp.Diff(specsBefore, specs()); diff != "" {
		t.Errorf("a spec changed between the applies (-first +second):\n%s", diff)
	}

	for route, n := range dd.Requests() {
		if !strings.HasPrefix(route, "GET ") && n != ddBefore[route] {
			t.Errorf("Datadog got %d more %s after the re-apply", n-ddBefore[route], route)
		}
	}

	// A commit that goes beyond the class waits for a platform admin: Flux reads it Failed at
	// once (it read InProgress, "generation is 2, but latest observed generation is 1", until
	// its timeout), Argo CD Suspended; never Current.
	kubectl("patch", "tenantnamespace", "checkout", "--type=merge", "-p", `{"spec":{"quota":{"hard":{"pods":"400"}}}}`)
	var k kstatus.Status
	var argo ArgoCDHealth
	if !Within(time.Minute, func() bool {
		k, argo = health("tenantnamespace/checkout")
		if k == kstatus.CurrentStatus || argo.Status == "Healthy" {
			t.Errorf("the change reads kstatus %s, Argo CD %+v before it was approved", k, argo)
			return true
		}
		return k == kstatus.FailedStatus && argo.Status == "Suspended"
	}) || k != kstatus.FailedStatus {
		t.Errorf("a change waiting for approval: kstatus %s, Argo CD %+v; want Failed and Suspended", k, argo)
	}
}
