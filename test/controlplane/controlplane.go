package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/selfserve-dev/selfserve/internal/operator"

	"github.com/selfserve-dev/selfserve/test/testutil"
)

// Version is the Kubernetes version of the local control plane.
const Version = "v1.37.2"

// Options choose what runs besides etcd and kube-apiserver.
type Options struct {
	// ControllerManager also starts kube-controller-manager with the namespace, garbage
	// collector, resource quota and service account controllers.
	ControllerManager bool
	// Webhooks installs the webhook configurations of config/webhook, pointed at a local
	// serving address; the caller serves them (see WebhookServing).
	Webhooks bool
	// Output attaches the control plane's own logs to this process's stdout/stderr.
	Output bool
	// Bare installs nothing (no CRDs, no webhook configurations, no admission policies): the caller applies an
	// install itself, as the install e2e test does with config/default.
	Bare bool
	// APIServerArgs are further kube-apiserver flags, to turn APIs off as an older cluster lacks
	// them (runtime-config, disable-admission-plugins).
	APIServerArgs map[string]string
}

// ControlPlane is a running local control plane.
type ControlPlane struct {
	// Env is the underlying envtest environment.
	Env *envtest.Environment
	// Config connects as a cluster admin (system:masters).
	Config *rest.Config
	// AssetsDir holds the control plane binaries, kubectl included.
	AssetsDir string

	kcm    *exec.Cmd
	kcmOut *os.File
	kcmDir string
	reaper *exec.Cmd
}

// Start starts a control plane. Call Stop when done, also on failure paths: it leaves no
// processes behind.
func Start(opts Options) (*ControlPlane, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		AttachControlPlaneOutput: opts.Output,
	}
	for flag, value := range opts.APIServerArgs {
		env.ControlPlane.GetAPIServer().Configure().Set(flag, value)
	}
	if !opts.Bare {
		env.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
		env.ErrorIfCRDPathMissing = true
	}
	if opts.Webhooks && !opts.Bare {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{
			Paths:                    []string{filepath.Join(root, "config", "webhook")},
			IgnoreSchemeConvertible:  true,
			MaxTime:                  30 * time.Second,
			LocalServingHost:         "127.0.0.1",
			IgnoreErrorIfPathMissing: false,
		}
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("starting etcd and kube-apiserver from %s: %w", assets, err)
	}
	cp := &ControlPlane{Env: env, Config: cfg, AssetsDir: assets}
	cp.startReaper()
	if !opts.Bare {
		if err := cp.installPolicies(root); err != nil {
			_ = cp.Stop()
			return nil, err
		}
	}
	if opts.ControllerManager {
		if err := cp.startControllerManager(opts.Output); err != nil {
			_ = cp.Stop()
			return nil, err
		}
	}
	return cp, nil
}

// startReaper guards against leftovers when this process dies without calling Stop (a test
// binary killed on timeout, a Ctrl-C'd benchmark): envtest starts etcd and kube-apiserver
// without a parent-death signal, so a small shell watches this process and kills them once it
// is gone. Stop ends the watcher.
func (cp *ControlPlane) startReaper() {
	children, ok := testutil.ChildProcesses(os.Getpid())
	if !ok {
		return
	}
	var pids []string
	for pid, name := range children {
		if name == "etcd" || strings.HasPrefix(name, "kube-apiserver") {
			pids = append(pids, fmt.Sprint(pid))
		}
	}
	if len(pids) == 0 {
		return
	}
	// SIGKILL: a kube-apiserver whose etcd is gone can spend a long time in graceful shutdown.
	dirs := []string{cp.Env.ControlPlane.Etcd.DataDir, cp.Env.ControlPlane.APIServer.CertDir}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; kill -9 %s 2>/dev/null; rm -rf %s",
		os.Getpid(), strings.Join(pids, " "), strings.Join(quoteAll(dirs), " "))
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Start() == nil {
		cp.reaper = cmd
	}
}

// quoteAll single-quotes paths for sh.
func quoteAll(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if p != "" {
			out = append(out, "'"+strings.ReplaceAll(p, "'", `'\''`)+"'")
		}
	}
	return out
}

// UserConfig returns a REST config authenticated as the given user and groups, so that tests
// exercise authorization the way kubectl would.
func (cp *ControlPlane) UserConfig(name string, groups ...string) (*rest.Config, error) {
	u, err := cp.Env.ControlPlane.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, err
	}
	return rest.CopyConfig(u.Config()), nil
}

// Client returns a cluster-admin client with selfserve's kinds and no client-side rate limit:
// like the operator, it leaves the limiting to the apiserver's priority and fairness.
func (cp *ControlPlane) Client() (client.Client, error) {
	cfg := rest.CopyConfig(cp.Config)
	cfg.QPS, cfg.Burst = -1, 0
	return client.New(cfg, client.Options{Scheme: operator.Scheme()})
}

// Kubeconfig returns a kubeconfig file's content for the given user and groups.
func (cp *ControlPlane) Kubeconfig(name string, groups ...string) ([]byte, error) {
	u, err := cp.Env.ControlPlane.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, err
	}
	return u.KubeConfig()
}

// Kubectl returns the path of the kubectl built with the control plane.
func (cp *ControlPlane) Kubectl() string { return filepath.Join(cp.AssetsDir, "kubectl") }

// WebhookServing returns where the caller must serve the webhooks that Start installed: host,
// port and the folder holding tls.crt and tls.key.
func (cp *ControlPlane) WebhookServing() (host string, port int, certDir string) {
	o := cp.Env.WebhookInstallOptions
	return o.LocalServingHost, o.LocalServingPort, o.LocalServingCertDir
}

// StartControllerManager starts kube-controller-manager on a control plane started without it
// (a benchmark that adds quota usage after measuring creation).
func (cp *ControlPlane) StartControllerManager() error {
	if cp.kcm != nil {
		return nil
	}
	return cp.startControllerManager(false)
}

func (cp *ControlPlane) startControllerManager(output bool) error {
	kubeconfig, err := cp.Kubeconfig("system:kube-controller-manager", "system:masters")
	if err != nil {
		return fmt.Errorf("kube-controller-manager credentials: %w", err)
	}
	dir, err := os.MkdirTemp("", "selfserve-kcm-")
	if err != nil {
		return err
	}
	cp.kcmDir = dir
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(cp.AssetsDir, "kube-controller-manager"),
		"--kubeconfig="+path,
		// clusterrole-aggregation fills the aggregated admin/edit/view roles that tenants are
		// bound to; without it they grant nothing.
		"--controllers=namespace-controller,garbage-collector-controller,resourcequota-controller,serviceaccount-controller,clusterrole-aggregation-controller",
		"--leader-elect=false",
		"--secure-port=0",
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--concurrent-namespace-syncs=10",
		"--concurrent-gc-syncs=20",
		"--v=1",
	)
	// The controller manager dies with this process even if Stop is never reached (a test
	// binary killed on timeout), so no stray process keeps writing to a dead apiserver.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if output {
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	} else {
		out, err := os.Create(filepath.Join(dir, "kube-controller-manager.log"))
		if err != nil {
			return err
		}
		cp.kcmOut = out
		cmd.Stdout, cmd.Stderr = out, out
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	cp.kcm = cmd
	return nil
}

// Stop stops kube-controller-manager, kube-apiserver and etcd and removes their temporary
// folders.
func (cp *ControlPlane) Stop() error {
	var errs []error
	if cp.kcm != nil && cp.kcm.Process != nil {
		_ = cp.kcm.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cp.kcm.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cp.kcm.Process.Kill()
			<-done
		}
		cp.kcm = nil
	}
	if cp.kcmOut != nil {
		_ = cp.kcmOut.Close()
	}
	if cp.kcmDir != "" {
		_ = os.RemoveAll(cp.kcmDir)
	}
	if err := cp.Env.Stop(); err != nil {
		errs = append(errs, err)
	}
	if cp.reaper != nil {
		_ = cp.reaper.Process.Kill()
		_ = cp.reaper.Wait()
		cp.reaper = nil
	}
	return errors.Join(errs...)
}

// AssetsDir returns the folder holding etcd, kube-apiserver, kube-controller-manager and
// kubectl: KUBEBUILDER_ASSETS when set, otherwise the user cache folder that
// hack/build-control-plane.sh fills (it is run here when the binaries are missing).
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "build-control-plane.sh"))
	cmd.Env = append(os.Environ(), "K8S_VERSION="+Version)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building the local control plane (hack/build-control-plane.sh): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// RepoRoot returns the folder holding the project's go.mod, found from the working directory
// upwards (go test runs in the package folder).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(data), "module github.com/selfserve-dev/selfserve\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the selfserve go.mod above the working directory")
		}
		dir = parent
	}
}
