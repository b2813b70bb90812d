package tenancy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Reasons of the ApprovalRequired condition.
const (
	ReasonApprovalNotNeeded = "NotNeeded"
	ReasonAwaitingApproval  = "AwaitingApproval"
	ReasonApproved          = "Approved"
	ReasonRejected          = "Rejected"
)

// Approvable reports whether something CheckClass found beyond the class may be approved by a
// platform admin instead of refused: a quota above the class maximum, container limits beyond
// the class's, a binding to a ClusterRole the class does not list. Everything else — Pod
// Security below the minimum, an isolation mode, subjects that stand for everyone, label and
// annotation prefixes — stays refused: those are the guard rails no single request moves.
func Approvable(e *field.Error) bool {
	f := e.Field
	return strings.HasPrefix(f, "spec.quota.hard[") || strings.HasPrefix(f, "spec.limits.max[") || strings.HasPrefix(f, "spec.limits.min[") ||
		strings.HasPrefix(f, "spec.roleBindings[") && strings.HasSuffix(f, "].clusterRole") && e.Type == field.ErrorTypeInvalid
}

// SplitApprovable separates what may be approved from what stays refused.
func SplitApprovable(errs field.ErrorList) (approvable, refused field.ErrorList) {
	for _, e := range errs {
		if Approvable(e) {
			approvable = append(approvable, e)
		} else {
			refused = append(refused, e)
		}
	}
	return approvable, refused
}

// SpecHash identifies a tenant's spec: an approval holds for the spec whose hash it names, and a
// spec changed in any way needs a new one. 128 bits of SHA-256: finding another spec with the
// same hash is out of reach.
func SpecHash(t *platformv1alpha1.TenantNamespace) string {
	b, _ := json.Marshal(t.Spec)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// DecisionOn is the admin's decision on the spec whose hash is given (SpecHash of the tenant as
// it is now), empty when there is none: a decision holds for one spec only.
func DecisionOn(t *platformv1alpha1.TenantNamespace, hash string) platformv1alpha1.Decision {
	if a := t.Status.Approval; a != nil && a.SpecHash == hash {
		return a.Decision
	}
	return ""
}

// BindingAllowed reports whether the class lets tenants bind a ClusterRole.
func BindingAllowed(c *platformv1alpha1.TenantClass, clusterRole string) bool {
	return slices.Contains(c.Spec.AllowedClusterRoles, clusterRole)
}

// CappedToClass is what a tenant gets while its spec waits for approval: its settings with the
// quota at most the class maximum and the container limits within the class's, resource by
// resource (container defaults kept between the two so the LimitRange stays valid) — but never
// less than what its namespace already holds (h), up to what it asks: a spec that grows waits
// for the growth only, and a class tightened under a tenant takes nothing away.
func CappedToClass(s Settings, c *platformv1alpha1.TenantClass, h Holding) Settings {
	out := s
	out.Quota = s.Quota.DeepCopy()
	for name, max := range c.Spec.Quota.Max {
		if q, ok := out.Quota[name]; ok && q.Cmp(max) > 0 {
			out.Quota[name] = AtMost(q, AtLeast(max, h.Quota[name]))
		}
	}
	if s.Limits == nil || c.Spec.Limits == nil {
		return out
	}
	l := s.Limits.DeepCopy()
	cl := c.Spec.Limits
	clamp := func(list corev1.ResourceList) {
		for name, q := range list {
			if max, ok := l.Max[name]; ok && q.Cmp(max) > 0 {
				list[name] = max.DeepCopy()
			}
			if min, ok := l.Min[name]; ok && q.Cmp(min) < 0 {
				list[name] = min.DeepCopy()
			}
		}
	}
	for name, max := range cl.Max {
		if q, ok := l.Max[name]; ok && q.Cmp(max) > 0 {
			l.Max[name] = AtMost(q, AtLeast(max, h.LimitsMax[name]))
		}
	}
	for name, min := range cl.Min {
		if q, ok := l.Min[name]; ok && q.Cmp(min) < 0 {
			held, holds := h.LimitsMin[name]
			if !holds || held.Cmp(min) > 0 {
				held = min
			}
			l.Min[name] = AtLeast(q, held)
		}
	}
	clamp(l.Default)
	clamp(l.DefaultRequest)
	out.Limits = l
	return out
}

// AtMost is the smaller of two quantities, AtLeast the larger; each returns a copy.
func AtMost(a, b resource.Quantity) resource.Quantity {
	if a.Cmp(b) <= 0 {
		return a.DeepCopy()
	}
	return b.DeepCopy()
}

func AtLeast(a, b resource.Quantity) resource.Quantity {
	if a.Cmp(b) >= 0 {
		return a.DeepCopy()
	}
	return b.DeepCopy()
}
