package tenantnamespace

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// scope is what one reconcile of a TenantNamespace works on: the tenant, its class and the
// settings in effect once the class's defaults fill what the tenant left out.
type scope struct {
	tenant *platformv1alpha1.TenantNamespace
	class  *platformv1alpha1.TenantClass

	quota            corev1.ResourceList
	limits           *platformv1alpha1.ContainerLimits
	networkIsolation platformv1alpha1.NetworkIsolation
	podSecurity      platformv1alpha1.PodSecurityLevel

	// injectDNS labels the namespace for the DNS webhook.
	injectDNS bool

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

// errClassNotFound says the tenant's class (or a default class) is missing; the tenant waits
// for it (the class watch requeues it) rather than being provisioned without guard rails.
type errClassNotFound struct{ msg string }

func (e errClassNotFound) Error() string { return e.msg }

// resolveClass finds the tenant's class: the one it names, or the cluster's single default.
func resolveClass(ctx context.Context, c client.Reader, tenant *platformv1alpha1.TenantNamespace) (*platformv1alpha1.TenantClass, error) {
	if tenant.Spec.Class != "" {
		var tc platformv1alpha1.TenantClass
		err := c.Get(ctx, client.ObjectKey{Name: tenant.Spec.Class}, &tc)
		if apierrors.IsNotFound(err) {
			return nil, errClassNotFound{fmt.Sprintf("TenantClass %q does not exist", tenant.Spec.Class)}
		}
		return &tc, err
	}
	var classes platformv1alpha1.TenantClassList
	if err := c.List(ctx, &classes); err != nil {
		return nil, err
	}
	var defaults []*platformv1alpha1.TenantClass
	for i := range classes.Items {
		if classes.Items[i].Spec.IsDefault {
			defaults = append(defaults, &classes.Items[i])
		}
	}
	switch len(defaults) {
	case 0:
		return nil, errClassNotFound{"spec.class is empty and no TenantClass is the default (spec.isDefault: true)"}
	case 1:
		return defaults[0], nil
	default:
		// Two defaults can slip past the webhook in a race; guessing would be worse than waiting.
		return nil, errClassNotFound{fmt.Sprintf("spec.class is empty and %d TenantClasses claim to be the default", len(defaults))}
	}
}

// effectiveSettings fills what the tenant left out from its class, then from built-in
// defaults (Team isolation, baseline Pod Security).
func (s *scope) effectiveSettings() {
	spec, cls := s.tenant.Spec, s.class.Spec
	s.quota = cls.Quota.Default
	if spec.Quota != nil {
		s.quota = spec.Quota.Hard
	}
	s.limits = cls.Limits
	if spec.Limits != nil {
		s.limits = spec.Limits
	}
	s.networkIsolation = firstNonEmpty(spec.NetworkIsolation, cls.NetworkIsolation.Default, platformv1alpha1.NetworkIsolationTeam)
	s.podSecurity = firstNonEmpty(spec.PodSecurity, cls.PodSecurity.Default, platformv1alpha1.PodSecurityBaseline)
}

func firstNonEmpty[T ~string](values ...T) T {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
