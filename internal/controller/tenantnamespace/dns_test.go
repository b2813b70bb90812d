package tenantnamespace

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestOnlyCacheReadinessChangesReachTheTenants(t *testing.T) {
	ds := func(ready int32) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{Status: appsv1.DaemonSetStatus{NumberReady: ready, DesiredNumberScheduled: 4}}
	}
	for _, tt := range []struct {
		name       string
		old, new   int32
		wantPassed bool
	}{
		{"first pod ready", 0, 1, true},
		{"last pod gone", 2, 0, true},
		{"a node added", 2, 3, false},
		{"a node removed", 3, 2, false},
		{"nothing ready still", 0, 0, false},
	} {
		if got := cacheReadinessChanged.Update(event.UpdateEvent{ObjectOld: ds(tt.old), ObjectNew: ds(tt.new)}); got != tt.wantPassed {
			t.Errorf("%s: passed = %v, want %v", tt.name, got, tt.wantPassed)
		}
	}
}
