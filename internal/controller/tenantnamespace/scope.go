package tenantnamespace

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// scope is what one reconcile of a TenantNamespace works on: the tenant, its team and class,
// and the settings in effect once the class fills what the tenant left out.
type scope struct {
	tenant *platformv1alpha1.TenantNamespace
	team   *platformv1alpha1.Team
	class  *platformv1alpha1.TenantClass

	// Settings are what the tenant gets once its class fills what it left out.
	tenancy.Settings

	// specHash identifies the spec this reconcile works on; capped says it gets only what its
	// class allows while it waits for approval (role bindings the class does not list are left
	// out).
	specHash string
	capped   bool
	// holding is what the namespace held when the reconcile began, read only for a tenant beyond
	// its class without an approval: a capped tenant keeps it.
	holding tenancy.Holding

	// overBudget says how the quota was capped to fit the team's budget; empty when it has all
	// it asks.
	overBudget string

	// dnsInjection is the namespace's injection label: empty for none, enabled for the DNS
	// webhook, policy for the DNS admission policy, which reads the pod settings from the
	// namespace's annotations (dnsAnnotations).
	dnsInjection   string
	dnsAnnotations map[string]string

	// created is set when this reconcile created the namespace, for the event.
	created bool
	// inPlace holds the objects (kind and name) this reconcile applied or found as wanted.
	inPlace map[string]bool
	// drifted names the objects someone else changed or deleted, restored by this reconcile.
	drifted []string

	// mu serialises the writes of the sub-reconcilers, which run concurrently, to the tenant's
	// status.
	mu sync.Mutex
}

// setCondition sets one part condition on the tenant. Ready is computed from them at the end.
func (s *scope) setCondition(typ string, status metav1.ConditionStatus, reason, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	meta.SetStatusCondition(&s.tenant.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: s.tenant.Generation,
	})
}

// condition returns a copy of one of the tenant's conditions, nil when it has none; safe while
// other sub-reconcilers set theirs.
func (s *scope) condition(typ string) *metav1.Condition {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := meta.FindStatusCondition(s.tenant.Status.Conditions, typ); c != nil {
		return c.DeepCopy()
	}
	return nil
}

// markInPlace records that an object is as this reconcile wants it.
func (s *scope) markInPlace(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inPlace == nil {
		s.inPlace = map[string]bool{}
	}
	s.inPlace[key] = true
}

// setQuotaUsage records the quota and its usage in status.
func (s *scope) setQuotaUsage(q *platformv1alpha1.QuotaUsage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenant.Status.Quota = q
}
