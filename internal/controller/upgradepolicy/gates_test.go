package upgradepolicy

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
)

// forbidden answers every read as kube-apiserver does for a ServiceAccount without the role.
type forbidden struct{ client.Reader }

func (forbidden) Get(_ context.Context, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, key.Name, nil)
}

// TestAMonitorGateSaysWhyItCannotReadTheCredentials: a Secret the operator may not read is an
// error to fix in RBAC, not credentials nobody configured.
func TestAMonitorGateSaysWhyItCannotReadTheCredentials(t *testing.T) {
	t.Setenv(datadog.EnvAPIKey, "")
	t.Setenv(datadog.EnvAppKey, "")
	p := &platformv1alpha1.ClusterUpgradePolicy{Spec: platformv1alpha1.ClusterUpgradePolicySpec{Gates: &platformv1alpha1.Gates{
		Monitors: []platformv1alpha1.MonitorGate{{Tags: []string{"upgrade-gate:true"}}}}}}
	r := &Reconciler{Conn: &datadog.Connection{Reader: forbidden{}, Secret: types.NamespacedName{Namespace: "selfserve-system", Name: "selfserve-datadog"}}}
	_, err := r.evaluateGates(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "reading the Datadog credentials") || !strings.Contains(err.Error(), "forbidden") || strings.Contains(err.Error(), "not configured") {
		t.Fatalf("got %v", err)
	}
	r.Conn = &datadog.Connection{Reader: nil, Secret: types.NamespacedName{}}
	if _, err := r.evaluateGates(context.Background(), p); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("without any credentials: %v", err)
	}
}
