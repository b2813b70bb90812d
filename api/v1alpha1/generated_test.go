package v1alpha1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // the operator embeds it; so does this test

	"github.com/google/go-cmp/cmp"

	"github.com/selfserve-dev/selfserve/test/controlplane"
)

// TestGeneratedFilesAreUpToDate regenerates the CRDs, RBAC, webhook configurations (and their
// copies in the Helm chart), the API reference, DeepCopy methods and the time zone list into a scratch folder and compares them with the committed
// files: a marker changed without `make manifests generate` fails here.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	run := func(name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
		}
		return out
	}
	run("go", "tool", "controller-gen", "rbac:roleName=manager-role", "crd", "webhook", `paths=./...`,
		"output:crd:artifacts:config="+filepath.Join(scratch, "crd"),
		"output:rbac:artifacts:config="+filepath.Join(scratch, "rbac"),
		"output:webhook:artifacts:config="+filepath.Join(scratch, "webhook"))
	fresh, _ := filepath.Glob(filepath.Join(scratch, "crd", "*.yaml"))
	run("go", append([]string{"run", "./hack/gen/crd-descriptions"}, fresh...)...)
	deepcopy := run("go", "tool", "controller-gen", `object:headerFile=hack/boilerplate.go.txt`, `paths=./api/...`, "output:object:stdout")
	run("go", "run", "./hack/gen/timezones", filepath.Join(scratch, "timezone_names.go"))
	if err := os.MkdirAll(filepath.Join(scratch, "chart", "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	run("go", "run", "./hack/gen/chart", filepath.Join(scratch, "chart"))
	run("go", "run", "./hack/gen/api-docs", filepath.Join(scratch, "api.md"))

	compare := func(committed string, fresh []byte) {
		t.Helper()
		old, err := os.ReadFile(filepath.Join(root, committed))
		if err != nil {
			t.Errorf("%s: %v (run make manifests generate)", committed, err)
			return
		}
		if diff := cmp.Diff(string(fresh), string(old)); diff != "" {
			t.Errorf("%s is stale; run make manifests generate (-fresh +committed):\n%s", committed, diff)
		}
	}
	readScratch := func(rel string) []byte {
		data, err := os.ReadFile(filepath.Join(scratch, rel))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	crds, err := filepath.Glob(filepath.Join(scratch, "crd", "*.yaml"))
	if err != nil || len(crds) != 5 {
		t.Fatalf("want 5 generated CRDs, got %v (%v)", crds, err)
	}
	committedCRDs, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if len(committedCRDs) != len(crds) {
		t.Errorf("config/crd/bases holds %d CRDs, the markers make %d", len(committedCRDs), len(crds))
	}
	for _, f := range crds {
		compare(filepath.Join("config", "crd", "bases", filepath.Base(f)), readScratch(filepath.Join("crd", filepath.Base(f))))
	}
	compare(filepath.Join("config", "rbac", "role.yaml"), readScratch(filepath.Join("rbac", "role.yaml")))
	compare(filepath.Join("config", "webhook", "manifests.yaml"), readScratch(filepath.Join("webhook", "manifests.yaml")))
	for _, f := range []string{"templates/manager_role.yaml", "templates/webhooks.yaml", "crds/platform.selfserve.dev_tenantnamespaces.yaml",
		"crds/platform.selfserve.dev_tenantclasses.yaml", "crds/platform.selfserve.dev_teams.yaml", "crds/platform.selfserve.dev_serviceslos.yaml", "crds/platform.selfserve.dev_clusterupgradepolicies.yaml"} {
		compare(filepath.Join("dist", "chart", f), readScratch(filepath.Join("chart", f)))
	}
	compare(filepath.Join("docs", "api.md"), readScratch("api.md"))
	compare(filepath.Join("api", "v1alpha1", "zz_generated.deepcopy.go"), deepcopy)
	compare(filepath.Join("api", "v1alpha1", "timezone_names.go"), readScratch("timezone_names.go"))
}

// TestTimeZoneListLoads checks that every zone the schema accepts is one the operator (which
// embeds time/tzdata) can load, so an accepted policy never fails in the window math.
func TestTimeZoneListLoads(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "api", "v1alpha1", "timezone_names.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := quoted(src)
	if len(names) < 400 {
		t.Fatalf("only %d zones in the schema; the tz database has about 600", len(names))
	}
	for _, n := range names {
		if _, err := time.LoadLocation(n); err != nil {
			t.Errorf("schema accepts %q but time.LoadLocation fails: %v", n, err)
		}
	}
	for _, must := range []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe", "Europe/London"} {
		found := false
		for _, n := range names {
			found = found || n == must
		}
		if !found {
			t.Errorf("schema does not accept %q", must)
		}
	}
}

// quoted returns the single-quoted strings of the generated rule.
func quoted(src []byte) []string {
	var out []string
	for {
		i := bytes.IndexByte(src, '\'')
		if i < 0 {
			return out
		}
		src = src[i+1:]
		j := bytes.IndexByte(src, '\'')
		if j < 0 {
			return out
		}
		out = append(out, string(src[:j]))
		src = src[j+1:]
	}
}
