// Package chart checks the other ways to install: the Helm chart in dist/chart renders through
// Helm's own Go library and describes every object the same way config/default does, and the
// cert-manager overlay hands the webhook certificate to cert-manager.
package chart

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/testutil"
)

// Labels the chart adds to say which release owns an object; config/default has no releases.
var helmLabels = []string{"app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version", "helm.sh/chart"}

// render renders dist/chart as `helm install selfserve -n selfserve-system` would, with
// values over the chart's defaults, and returns the objects of the templates and crds/ by key.
func render(t *testing.T, values map[string]any) map[string]*unstructured.Unstructured {
	t.Helper()
	return renderOn(t, values, withMutatingAdmissionPolicy())
}

// withMutatingAdmissionPolicy are the capabilities of a cluster that serves
// MutatingAdmissionPolicy (Kubernetes 1.36 and later), as the kustomization assumes.
func withMutatingAdmissionPolicy() *chartutil.Capabilities {
	caps := *chartutil.DefaultCapabilities
	caps.APIVersions = append(slices.Clone(caps.APIVersions), "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy")
	return &caps
}

// renderOn renders the chart for a cluster with the given capabilities.
func renderOn(t *testing.T, values map[string]any, caps *chartutil.Capabilities) map[string]*unstructured.Unstructured {
	t.Helper()
	ch, files := renderFiles(t, values, caps)
	var docs []string
	for name, content := range files {
		if strings.HasSuffix(name, ".yaml") {
			docs = append(docs, content)
		}
	}
	for _, crd := range ch.CRDObjects() {
		docs = append(docs, string(crd.File.Data))
	}
	return objects(t, docs)
}

// renderFiles loads dist/chart and renders its templates, NOTES.txt included, by file name.
func renderFiles(t *testing.T, values map[string]any, caps *chartutil.Capabilities) (*chart.Chart, map[string]string) {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(filepath.Join(root, "dist", "chart"))
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	if err := ch.Validate(); err != nil {
		t.Fatalf("the chart is invalid: %v", err)
	}
	vals, err := chartutil.ToRenderValues(ch, values,
		chartutil.ReleaseOptions{Name: "selfserve", Namespace: "selfserve-system", IsInstall: true, Revision: 1},
		caps)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return ch, files
}

// kustomize renders a kustomization under config/ with the kubectl of the local control plane.
func kustomize(t *testing.T, dir string) map[string]*unstructured.Unstructured {
	t.Helper()
	return kustomizePath(t, filepath.Join("config", dir))
}

// kustomizePath renders the kustomization at a path of the repository.
func kustomizePath(t *testing.T, dir string) map[string]*unstructured.Unstructured {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	assets, err := controlplane.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", filepath.Join(root, dir)).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	return objects(t, []string{string(out)})
}

// clusterScopedUnknownToKustomize are cluster-scoped kinds that kustomize's built-in schema
// does not know.
var clusterScopedUnknownToKustomize = map[string]bool{"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true, "MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true}

// objects decodes YAML streams into objects keyed "Kind namespace/name".
func objects(t *testing.T, streams []string) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, s := range streams {
		for _, doc := range strings.Split(s, "\n---") {
			obj := map[string]any{}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatalf("decoding %q: %v", doc, err)
			}
			if len(obj) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			if clusterScopedUnknownToKustomize[u.GetKind()] {
				// kustomize's schema predates them: it gives them the install's namespace, which
				// kubectl drops for a cluster-scoped kind (the install e2e test applies it).
				u.SetNamespace("")
			}
			key := fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
			if _, dup := out[key]; dup {
				t.Errorf("%s is rendered twice", key)
			}
			out[key] = u
		}
	}
	return out
}

func TestChartRendersWhatConfigDefaultInstalls(t *testing.T) {
	kust := kustomize(t, "default")
	sameObjects(t, kust, render(t, nil))
	// The namespace, 5 CRDs, 8 RBAC objects, 2 bindings, a ServiceAccount, 2 Services, the
	// Deployment, its disruption budget, 2 webhook configurations, 5 admission policies and
	// the bindings of 3 (the operator binds the workload and node pool policies once per
	// TenantClass).
	if len(kust) != 30 {
		t.Errorf("config/default renders %d objects, want 30", len(kust))
	}
}

// TestChartWithCertManagerRendersWhatTheOverlayInstalls: webhook.certManager.enabled gives the
// install of config/overlays/cert-manager.
func TestChartWithCertManagerRendersWhatTheOverlayInstalls(t *testing.T) {
	kust := kustomize(t, filepath.Join("overlays", "cert-manager"))
	sameObjects(t, kust, render(t, map[string]any{"webhook": map[string]any{"certManager": map[string]any{"enabled": true}}}))
	if _, ok := kust["Certificate selfserve-system/selfserve-serving-cert"]; !ok {
		t.Error("the overlay renders no Certificate")
	}

	// An issuer of the cluster's replaces the self-signed one.
	chart := render(t, map[string]any{"webhook": map[string]any{"certManager": map[string]any{
		"enabled": true, "issuerRef": map[string]any{"kind": "ClusterIssuer", "name": "internal-ca"}}}})
	if _, ok := chart["Issuer selfserve-system/selfserve-selfsigned-issuer"]; ok {
		t.Error("the chart creates its self-signed Issuer although an issuer is given")
	}
	cert := chart["Certificate selfserve-system/selfserve-serving-cert"]
	if cert == nil {
		t.Fatal("no Certificate")
	}
	if ref, _, _ := unstructured.NestedStringMap(cert.Object, "spec", "issuerRef"); ref["kind"] != "ClusterIssuer" || ref["name"] != "internal-ca" {
		t.Errorf("issuerRef %v, want ClusterIssuer internal-ca", ref)
	}
}

// sameObjects checks that the chart renders exactly the objects of the kustomization, alike
// but for the chart's release labels (which it must carry), the Namespace (Helm installs into
// one that exists) and the order of a container's flags (the overlay appends flags that
// override earlier ones; the chart writes the outcome once).
func sameObjects(t *testing.T, kust, chart map[string]*unstructured.Unstructured) {
	t.Helper()
	for key, want := range kust {
		got, ok := chart[key]
		if !ok {
			// Helm installs into a namespace that exists (or --create-namespace).
			if want.GetKind() != "Namespace" {
				t.Errorf("the chart lacks %s", key)
			}
			continue
		}
		labels := got.GetLabels()
		for _, l := range helmLabels {
			if want.GetKind() != "CustomResourceDefinition" && labels[l] == "" {
				t.Errorf("%s lacks the label %s", key, l)
			}
			delete(labels, l)
		}
		if len(labels) == 0 {
			unstructured.RemoveNestedField(got.Object, "metadata", "labels")
		} else {
			got.SetLabels(labels)
		}
		if diff := cmp.Diff(effectiveArgs(want).Object, effectiveArgs(got).Object); diff != "" {
			t.Errorf("%s differs (-kustomize +chart):\n%s", key, diff)
		}
	}
	for key := range chart {
		if _, ok := kust[key]; !ok {
			t.Errorf("the chart renders %s, which the kustomization does not", key)
		}
	}
}

// effectiveArgs returns a copy of a Deployment whose containers' flags are what the program
// sees, sorted: a later --flag=value replaces an earlier one. Other objects are returned as
// they are.
func effectiveArgs(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u.GetKind() != "Deployment" {
		return u
	}
	u = u.DeepCopy()
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	for i, c := range containers {
		args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
		last := map[string]string{}
		for _, a := range args {
			name, _, _ := strings.Cut(a, "=")
			last[name] = a
		}
		effective := make([]any, 0, len(last))
		for _, a := range last {
			effective = append(effective, a)
		}
		slices.SortFunc(effective, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		containers[i].(map[string]any)["args"] = effective
	}
	_ = unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers")
	return u
}

func TestChartValuesReachTheObjects(t *testing.T) {
	chart := render(t, map[string]any{
		"image":                map[string]any{"repository": "registry.example/selfserve", "tag": "v9.9.9"},
		"replicas":             3,
		"resources":            map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "256Mi"}},
		"datadog":              map[string]any{"secretName": "dd-keys", "site": "datadoghq.eu"},
		"platformAdmins":       map[string]any{"groups": []any{"sre@example.com"}, "users": []any{"breakglass@example.com"}},
		"protectedNamespaces":  []any{"monitoring", "argocd"},
		"bindableClusterRoles": []any{"admin", "edit", "view", "monitoring-reader"},
		"nodeLocalDNS":         map[string]any{"ip": "169.254.25.10", "clusterDomain": "corp.local"},
		"serviceAccount":       map[string]any{"annotations": map[string]any{"iam.gke.io/gcp-service-account": "selfserve@acme.iam.gserviceaccount.com"}},
		"podAnnotations":       map[string]any{"example.com/team": "platform"},
		"nodeSelector":         map[string]any{"pool": "system"},
		"tolerations":          []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}},
		"priorityClassName":    "system-cluster-critical",
		"extraArgs":            []any{"--datadog-poll-interval=5m"},
		"clusterName":          "production",
	})
	sa := chart["ServiceAccount selfserve-system/selfserve-controller-manager"]
	if got := sa.GetAnnotations()["iam.gke.io/gcp-service-account"]; got != "selfserve@acme.iam.gserviceaccount.com" {
		t.Errorf("ServiceAccount annotation %q", got)
	}
	dep := chart["Deployment selfserve-system/selfserve-controller-manager"]
	if dep == nil {
		t.Fatal("no Deployment")
	}
	replicas, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	manager := containers[0].(map[string]any)
	var args []string
	for _, a := range manager["args"].([]any) {
		args = append(args, a.(string))
	}
	var env []string
	for _, e := range manager["env"].([]any) {
		if v, ok := e.(map[string]any)["value"]; ok {
			env = append(env, e.(map[string]any)["name"].(string)+"="+v.(string))
		}
	}
	pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template")
	got := map[string]any{
		"podAnnotation":     pod["metadata"].(map[string]any)["annotations"].(map[string]any)["example.com/team"],
		"nodeSelector":      pod["spec"].(map[string]any)["nodeSelector"],
		"tolerations":       len(pod["spec"].(map[string]any)["tolerations"].([]any)),
		"priorityClassName": pod["spec"].(map[string]any)["priorityClassName"],
		"replicas":          replicas,
		"image":             manager["image"],
		"resources":         manager["resources"],
		"env":               env,
	}
	want := map[string]any{
		"podAnnotation":     "platform",
		"nodeSelector":      map[string]any{"pool": "system"},
		"tolerations":       1,
		"priorityClassName": "system-cluster-critical",
		"replicas":          float64(3),
		"image":             "registry.example/selfserve:v9.9.9",
		"resources":         map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "256Mi"}, "limits": map[string]any{"memory": "1Gi"}},
		"env":               []string{"DD_SITE=datadoghq.eu"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Deployment (-want +got):\n%s", diff)
	}
	for _, a := range []string{
		"--datadog-secret=selfserve-system/dd-keys",
		"--admin-groups=sre@example.com",
		"--admin-users=system:serviceaccount:selfserve-system:selfserve-controller-manager,breakglass@example.com",
		"--protected-namespaces=monitoring,argocd",
		"--node-local-dns-ip=169.254.25.10",
		"--cluster-domain=corp.local",
		"--datadog-poll-interval=5m",
		"--cluster-name=production",
	} {
		if !slices.Contains(args, a) {
			t.Errorf("the manager's args lack %s: %v", a, args)
		}
	}

	// The Role lets the manager read the Datadog Secret of that name, and no other.
	role := chart["Role selfserve-system/selfserve-manager-role"]
	if got := resourceNames(t, role, "secrets", "get"); !slices.Contains(got, "dd-keys") || slices.Contains(got, "selfserve-datadog") {
		t.Errorf("the manager may get the Secrets %v, want dd-keys among them and not selfserve-datadog", got)
	}
	// The manager may bind exactly the listed ClusterRoles.
	cr := chart["ClusterRole /selfserve-manager-role"]
	if diff := cmp.Diff([]string{"admin", "edit", "monitoring-reader", "view"}, resourceNames(t, cr, "clusterroles", "bind")); diff != "" {
		t.Errorf("bindable ClusterRoles (-want +got):\n%s", diff)
	}
}

// TestEmptyBindableClusterRolesGrantsNoBind: an empty allow-list is none, never all (a bind
// rule without resourceNames would let the operator bind cluster-admin).
func TestEmptyBindableClusterRolesGrantsNoBind(t *testing.T) {
	chart := render(t, map[string]any{"bindableClusterRoles": []any{}})
	cr := chart["ClusterRole /selfserve-manager-role"]
	rules, _, _ := unstructured.NestedSlice(cr.Object, "rules")
	for _, r := range rules {
		verbs, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "verbs")
		if slices.Contains(verbs, "bind") || slices.Contains(verbs, "*") {
			t.Errorf("with bindableClusterRoles: [] the manager role still has %v", r)
		}
	}
}

// resourceNames returns the sorted resourceNames of the rules granting verb on resource.
func resourceNames(t *testing.T, role *unstructured.Unstructured, resource, verb string) []string {
	t.Helper()
	if role == nil {
		t.Fatal("no such role")
	}
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	var names []string
	for _, r := range rules {
		rule := r.(map[string]any)
		res, _, _ := unstructured.NestedStringSlice(rule, "resources")
		verbs, _, _ := unstructured.NestedStringSlice(rule, "verbs")
		if slices.Contains(res, resource) && slices.Contains(verbs, verb) {
			n, _, _ := unstructured.NestedStringSlice(rule, "resourceNames")
			names = append(names, n...)
		}
	}
	sort.Strings(names)
	return names
}

// TestChartLeavesOutWhatTheClusterDoesNotServe: on a cluster without MutatingAdmissionPolicy
// (below Kubernetes 1.36) the chart installs everything but the node pool and DNS policies
// (and the DNS policy's binding).
func TestChartLeavesOutWhatTheClusterDoesNotServe(t *testing.T) {
	older := renderOn(t, nil, chartutil.DefaultCapabilities)
	newer := render(t, nil)
	if len(older) != len(newer)-3 {
		t.Errorf("the chart renders %d objects below 1.36 and %d from 1.36 on, want three less", len(older), len(newer))
	}
	for key := range older {
		if strings.HasPrefix(key, "MutatingAdmissionPolicy") {
			t.Errorf("the chart renders %s for a cluster that does not serve it", key)
		}
	}
}

// TestChartOffersArgoCDHealthChecks: argocd.healthChecks renders a ConfigMap whose data is
// config/argocd/argocd-cm-patch.yaml's, one key per kind of the project, each the script the
// Lua test runs; the default leaves it out (and the NOTES say how to merge it).
func TestChartOffersArgoCDHealthChecks(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := render(t, nil)["ConfigMap selfserve-system/selfserve-argocd-health"]; ok {
		t.Errorf("the chart renders the Argo CD health checks by default")
	}
	cm := render(t, map[string]any{"argocd": map[string]any{"healthChecks": true}})["ConfigMap selfserve-system/selfserve-argocd-health"]
	if cm == nil {
		t.Fatal("argocd.healthChecks=true renders no ConfigMap selfserve-argocd-health")
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "argocd", "argocd-cm-patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var patch struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict(data, &patch); err != nil {
		t.Fatal(err)
	}
	got, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if diff := cmp.Diff(patch.Data, got); diff != "" {
		t.Errorf("the chart's health checks differ from config/argocd/argocd-cm-patch.yaml (-patch +chart):\n%s", diff)
	}
	script, err := testutil.LoadArgoCDHealth(root)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, crd := range render(t, nil) {
		if crd.GetKind() == "CustomResourceDefinition" {
			kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
			kinds = append(kinds, kind)
		}
	}
	sort.Strings(kinds)
	var keys []string
	for key, s := range patch.Data {
		keys = append(keys, strings.TrimPrefix(key, "resource.customizations.health.platform.selfserve.dev_"))
		if s != script {
			t.Errorf("%s is not config/argocd/health.lua", key)
		}
	}
	sort.Strings(keys)
	if diff := cmp.Diff(kinds, keys); diff != "" {
		t.Errorf("kinds with a health check (-CRDs +checks):\n%s", diff)
	}
}

// TestChartNotesSayWhatIsLeftToDo: the NOTES render and name the Secret to create, the
// bindings to make and, when asked for, the Argo CD merge.
func TestChartNotesSayWhatIsLeftToDo(t *testing.T) {
	notes := renderNotes(t, map[string]any{"datadog": map[string]any{"secretName": "dd-keys"}, "argocd": map[string]any{"healthChecks": true}})
	for _, want := range []string{"create secret generic dd-keys -n selfserve-system", "--clusterrole=selfserve-tenant-requester",
		"--clusterrole=selfserve-state-metrics-reader", "kubectl patch configmap argocd-cm -n argocd", "Uninstall"} {
		if !strings.Contains(notes, want) {
			t.Errorf("the NOTES lack %q:\n%s", want, notes)
		}
	}
	if notes := renderNotes(t, nil); strings.Contains(notes, "argocd-cm") {
		t.Errorf("the NOTES mention Argo CD though its health checks are off:\n%s", notes)
	}
}

// renderNotes renders the chart's NOTES.txt as helm install prints it.
func renderNotes(t *testing.T, values map[string]any) string {
	t.Helper()
	_, files := renderFiles(t, values, withMutatingAdmissionPolicy())
	return files["selfserve/templates/NOTES.txt"]
}

// TestUninstallKeepsTheCRDs: config/uninstall is config/default without its CRDs, so that
// deleting it removes the operator and never, through the CRDs, every tenant.
func TestUninstallKeepsTheCRDs(t *testing.T) {
	want := kustomize(t, "default")
	for key, obj := range want {
		if obj.GetKind() == "CustomResourceDefinition" {
			delete(want, key)
		}
	}
	got := kustomize(t, "uninstall")
	if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
		t.Errorf("config/uninstall (-config/default without CRDs +uninstall):\n%s", diff)
	}
}

func keys(objs map[string]*unstructured.Unstructured) []string {
	var out []string
	for k := range objs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestChartNotesWarnAboutAnUnrestrictedNamespace: helm install --create-namespace makes the
// release namespace without the restricted Pod Security level that config/default gives it;
// the NOTES, rendered against a real kube-apiserver as helm install does, say how to set it,
// and say nothing once it is set.
func TestChartNotesWarnAboutAnUnrestrictedNamespace(t *testing.T) {
	cp, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Stop() }()
	cfg, err := cp.UserConfig("helm", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cp.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "selfserve-system", Labels: map[string]string{"name": "selfserve-system"}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	notes := func() string {
		ch, _ := renderFiles(t, nil, withMutatingAdmissionPolicy())
		vals, err := chartutil.ToRenderValues(ch, nil, chartutil.ReleaseOptions{Name: "selfserve", Namespace: "selfserve-system", IsInstall: true, Revision: 1}, withMutatingAdmissionPolicy())
		if err != nil {
			t.Fatal(err)
		}
		files, err := engine.RenderWithClient(ch, vals, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return files["selfserve/templates/NOTES.txt"]
	}
	warning := "kubectl label namespace selfserve-system pod-security.kubernetes.io/enforce=restricted"
	if got := notes(); !strings.Contains(got, warning) {
		t.Errorf("the NOTES for a namespace made by --create-namespace do not say to label it:\n%s", got)
	}
	ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if err := c.Update(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if got := notes(); strings.Contains(got, "WARNING") {
		t.Errorf("the NOTES warn about a restricted namespace:\n%s", got)
	}
}
