package tenantnamespace

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/events"
)

// eventf records an Event about the tenant and, while its namespace is the tenant's own
// (NamespaceReady), the same Event in that namespace. An Event about a cluster-scoped object is
// kept in default, which the team may not read; in its namespace, `kubectl get events -n <name>`
// (and `kubectl events --for tenantnamespace/<name>`) shows it to the team. A namespace that
// exists but is not the tenant's (NamespaceExists) gets nothing: what is said about one team's
// request does not reach another's namespace.
func (r *Reconciler) eventf(t *platformv1alpha1.TenantNamespace, eventtype, reason, action, note string, args ...any) {
	r.Recorder.Eventf(t, nil, eventtype, reason, action, note, args...)
	if meta.IsStatusConditionTrue(t.Status.Conditions, platformv1alpha1.ConditionNamespaceReady) {
		r.Recorder.Eventf(events.In(t, t.Name), nil, eventtype, reason, action, note, args...)
	}
}

// namespaceEventf records the NamespaceReleased Event about a released namespace, in default
// (`kubectl describe namespace`, for those who may read Events everywhere) and in the namespace
// itself, where whoever may still read it finds what happened.
func (r *Reconciler) namespaceEventf(ns *corev1.Namespace, note string, args ...any) {
	r.Recorder.Eventf(ns, nil, corev1.EventTypeNormal, ReasonReleased, "Release", note, args...)
	r.Recorder.Eventf(events.In(ns, ns.Name), nil, corev1.EventTypeNormal, ReasonReleased, "Release", note, args...)
}
