package testutil

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// RunBenchmark is the main of a benchmark command: run gets a context that Ctrl-C or SIGTERM
// cancels, so the control plane it starts is stopped cleanly; the operator logs errors only,
// not to disturb the figures; an error is printed after name and ends the process with 1.
func RunBenchmark(name string, run func(ctx context.Context) error) {
	LogErrorsOnly()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// LogErrorsOnly sets controller-runtime's logger to one that prints errors only: a benchmark's
// figures and a test's output stay readable, and nothing warns that no logger was set.
func LogErrorsOnly() {
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
}
