package controlplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"

	"github.com/selfserve-dev/selfserve/test/testutil"
)

// OperatorProcess is the manager binary (./cmd) running as its own process against the control
// plane, as a user deploys it: what it holds in memory is its own, apart from the caller's.
// Started by StartOperatorProcess, its metrics and profiles are served on local ports.
type OperatorProcess struct {
	cmd     *exec.Cmd
	dir     string
	metrics string
	pprof   string
	exited  chan error
	log     string // the log, kept by Stop
}

// StartOperatorProcess builds ./cmd and runs it as a platform admin with the webhooks, leader
// election and secure metrics off, plus the given flags (later flags win; WebhookFlags turns
// the webhooks on) and environment variables ("NAME=value", added to this process's). It
// returns once the manager is ready.
func (cp *ControlPlane) StartOperatorProcess(ctx context.Context, env []string, flags ...string) (*OperatorProcess, error) {
	op, err := newOperatorProcess()
	if err != nil {
		return nil, err
	}
	kubeconfig, err := cp.Kubeconfig("selfserve-operator", "system:masters")
	if err == nil {
		err = os.WriteFile(filepath.Join(op.dir, "kubeconfig"), kubeconfig, 0o600)
	}
	ports, portsErr := FreePorts(3)
	if err = errors.Join(err, portsErr); err != nil {
		return nil, errors.Join(err, op.Stop())
	}
	op.metrics = fmt.Sprintf("127.0.0.1:%d", ports[0])
	op.pprof = fmt.Sprintf("127.0.0.1:%d", ports[1])
	probe := fmt.Sprintf("127.0.0.1:%d", ports[2])
	args := append([]string{
		"--kubeconfig=" + filepath.Join(op.dir, "kubeconfig"),
		"--enable-webhooks=false", "--leader-elect=false", "--webhook-cert-secret=",
		"--metrics-secure=false", "--metrics-bind-address=" + op.metrics,
		"--pprof-bind-address=" + op.pprof, "--health-probe-bind-address=" + probe,
		"--zap-log-level=error",
	}, flags...)
	return op, op.start(ctx, args, env, probe)
}

// StartManager builds ./cmd and runs it with exactly args and env (added to this process's),
// as the install test runs the Deployment's container. It returns once /readyz answers at
// probe, the --health-probe-bind-address that args set. Metrics and HeapAfterGC are for
// StartOperatorProcess only.
func StartManager(ctx context.Context, args, env []string, probe string) (*OperatorProcess, error) {
	op, err := newOperatorProcess()
	if err != nil {
		return nil, err
	}
	return op, op.start(ctx, args, env, probe)
}

func newOperatorProcess() (*OperatorProcess, error) {
	dir, err := os.MkdirTemp("", "selfserve-manager-")
	if err != nil {
		return nil, err
	}
	return &OperatorProcess{dir: dir, exited: make(chan error, 1)}, nil
}

// start builds and starts the manager and waits until it is ready; on failure it stops it, and
// the last lines of its log are in the error.
func (op *OperatorProcess) start(ctx context.Context, args, env []string, probe string) (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, op.Stop())
		}
	}()
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(op.dir, "manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the manager: %w\n%s", err, out)
	}
	logs, err := os.Create(filepath.Join(op.dir, "manager.log"))
	if err != nil {
		return err
	}
	defer logs.Close()
	op.cmd = exec.Command(bin, args...)
	op.cmd.Stdout, op.cmd.Stderr = logs, logs
	op.cmd.Env = append(os.Environ(), env...)
	// The manager dies with this process even if Stop is never reached.
	op.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := op.cmd.Start(); err != nil {
		return fmt.Errorf("starting the manager: %w", err)
	}
	go func() { op.exited <- op.cmd.Wait() }()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-op.exited:
			op.exited <- err
			return fmt.Errorf("the manager exited: %v\n%s", err, op.logTail())
		default:
		}
		if res, err := http.Get("http://" + probe + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager is not ready after 2 minutes\n%s", op.logTail())
		}
	}
}

// WebhookFlags are the manager's flags that serve the webhooks Start installed (Options.Webhooks)
// with envtest's certificate, for StartOperatorProcess.
func (cp *ControlPlane) WebhookFlags() []string {
	_, port, certDir := cp.WebhookServing()
	return []string{"--enable-webhooks=true", fmt.Sprintf("--webhook-port=%d", port), "--webhook-cert-dir=" + certDir}
}

// FreePorts returns n local TCP ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Log returns the manager's log so far; after Stop, all of it.
func (op *OperatorProcess) Log() string {
	if op.cmd == nil {
		return op.log
	}
	data, _ := os.ReadFile(filepath.Join(op.dir, "manager.log"))
	return string(data)
}

// logTail returns the last lines of the manager's log.
func (op *OperatorProcess) logTail() string {
	lines := strings.Split(strings.TrimSpace(op.Log()), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// Stop ends the manager (SIGTERM, then SIGKILL after 30 s), keeps its log for Log and removes
// its folder. It returns how the manager exited: nil after a clean shutdown.
func (op *OperatorProcess) Stop() error {
	return op.end(func() error {
		_ = op.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-op.exited:
			return err
		case <-time.After(30 * time.Second):
			_ = op.cmd.Process.Kill()
			<-op.exited
			return errors.New("the manager did not stop within 30 s of SIGTERM")
		}
	})
}

// Kill ends the manager at once (SIGKILL), as an OOM kill or a lost node would: no shutdown,
// no lease released. Its log stays for Log.
func (op *OperatorProcess) Kill() error {
	return op.end(func() error {
		_ = op.cmd.Process.Kill()
		<-op.exited
		return nil
	})
}

// end stops a running manager with stop, keeps its log and removes its folder.
func (op *OperatorProcess) end(stop func() error) error {
	var err error
	if op.cmd != nil && op.cmd.Process != nil {
		err = stop()
		op.log = op.Log()
		op.cmd = nil
	}
	return errors.Join(err, os.RemoveAll(op.dir))
}

// Metrics reads the manager's metrics endpoint.
func (op *OperatorProcess) Metrics() (Families, error) {
	res, err := http.Get("http://" + op.metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	return ParseMetrics(res.Body)
}

// Reconciles returns how many reconciles the named controller has finished.
func (op *OperatorProcess) Reconciles(controllerName string) (float64, error) {
	m, err := op.Metrics()
	if err != nil {
		return 0, err
	}
	return m.Sum("controller_runtime_reconcile_total", map[string]string{"controller": controllerName}), nil
}

// Writes returns how many write requests (POST, PUT, PATCH, DELETE) the manager has sent to
// the apiserver, from client-go's rest_client_requests_total. With the webhooks and secure
// metrics off, it sends no reviews or dry runs, so every one of them is a write.
func (op *OperatorProcess) Writes() (float64, error) {
	m, err := op.Metrics()
	if err != nil {
		return 0, err
	}
	var writes float64
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		writes += m.Sum("rest_client_requests_total", map[string]string{"method": method})
	}
	return writes, nil
}

// HeapAfterGC runs a garbage collection in the manager and returns its live heap in bytes
// (runtime.MemStats.HeapAlloc, from the heap profile's text form). If path is not empty, the
// heap profile is written there too.
func (op *OperatorProcess) HeapAfterGC(path string) (uint64, error) {
	get := func(query string) (io.ReadCloser, error) {
		res, err := http.Get("http://" + op.pprof + "/debug/pprof/heap?" + query)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			_ = res.Body.Close()
			return nil, fmt.Errorf("GET /debug/pprof/heap: %s", res.Status)
		}
		return res.Body, nil
	}
	if path != "" {
		body, err := get("gc=1")
		if err != nil {
			return 0, err
		}
		defer body.Close()
		f, err := os.Create(path)
		if err != nil {
			return 0, err
		}
		if _, err := io.Copy(f, body); err != nil {
			_ = f.Close()
			return 0, err
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
	}
	body, err := get("gc=1&debug=1")
	if err != nil {
		return 0, err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.Join(errors.New("no HeapAlloc in the heap profile"), sc.Err())
}

// CPUProfile writes a CPU profile of the manager over the given seconds to path.
func (op *OperatorProcess) CPUProfile(ctx context.Context, path string, seconds int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", op.pprof, seconds), nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /debug/pprof/profile: %s", res.Status)
	}
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// CPU is the CPU time the manager has used so far (testutil.ProcCPU).
func (op *OperatorProcess) CPU() time.Duration {
	if op.cmd == nil || op.cmd.Process == nil {
		return 0
	}
	return testutil.ProcCPU(op.cmd.Process.Pid)
}

// Memory reads one memory field of the manager's /proc status in MiB (testutil.ProcMemory).
func (op *OperatorProcess) Memory(field string) float64 {
	if op.cmd == nil || op.cmd.Process == nil {
		return 0
	}
	return testutil.ProcMemory(op.cmd.Process.Pid, field)
}

// Families are scraped metrics by name.
type Families map[string]*dto.MetricFamily

// ParseMetrics reads Prometheus' text format.
func ParseMetrics(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// Sum adds up the counters and gauges of the named family whose labels include the given ones.
func (f Families) Sum(name string, labels map[string]string) float64 {
	var total float64
	for _, m := range f.Series(name, labels) {
		total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return total
}

// Series returns the named family's series whose labels include the given ones.
func (f Families) Series(name string, labels map[string]string) []*dto.Metric {
	fam, ok := f[name]
	if !ok {
		return nil
	}
	var out []*dto.Metric
series:
	for _, m := range fam.GetMetric() {
		for k, want := range labels {
			if Label(m, k) != want {
				continue series
			}
		}
		out = append(out, m)
	}
	return out
}

// Label returns a series' label value, "" when it has none of that name.
func Label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// APIServerMetrics reads kube-apiserver's own metrics as a cluster admin.
func (cp *ControlPlane) APIServerMetrics(ctx context.Context) (Families, error) {
	cfg := rest.CopyConfig(cp.Config)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics of kube-apiserver: %s", res.Status)
	}
	return ParseMetrics(res.Body)
}
