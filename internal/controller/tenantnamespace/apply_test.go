package tenantnamespace

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestLastDesiredTellsDriftFromChange(t *testing.T) {
	var m lastDesired
	tenant := &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "checkout", UID: "1"}}
	steps := []struct {
		name   string
		tenant *platformv1alpha1.TenantNamespace
		key    string
		hash   uint64
		want   bool
	}{
		{"first sight", tenant, "ResourceQuota q", 1, false},
		{"wanted the same again", tenant, "ResourceQuota q", 1, true},
		{"another object of the tenant", tenant, "LimitRange l", 1, false},
		{"the spec changed", tenant, "ResourceQuota q", 2, false},
		{"then the same again", tenant, "ResourceQuota q", 2, true},
		{"a new tenant of the same name", &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "checkout", UID: "2"}}, "ResourceQuota q", 2, false},
	}
	for _, s := range steps {
		if got := m.remember(s.tenant, s.key, s.hash); got != s.want {
			t.Errorf("%s: remember = %v, want %v", s.name, got, s.want)
		}
	}
	// An object the spec stops asking for is forgotten, so asking for it again is no repair.
	m.remember(tenant, "ResourceQuota q", 2)
	m.remember(tenant, "RoleBinding view", 7)
	m.retain(tenant, map[string]bool{"ResourceQuota q": true})
	if m.remember(tenant, "RoleBinding view", 7) {
		t.Error("an object no longer wanted is remembered")
	}
	if !m.remember(tenant, "ResourceQuota q", 2) {
		t.Error("retain forgot an object it was told to keep")
	}

	m.forget("checkout")
	if m.remember(tenant, "ResourceQuota q", 2) {
		t.Error("a forgotten tenant is remembered")
	}
}
