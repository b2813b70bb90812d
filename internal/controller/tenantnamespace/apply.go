package tenantnamespace

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// FieldOwner is the server-side apply field manager of everything the operator writes.
const FieldOwner = "selfserve"

// applyIfChanged server-side applies desired unless the cached object already holds exactly
// what the operator's field manager last applied: an unchanged child costs no request. Fields
// someone else changed are no longer ours in managedFields, so drift shows up as a difference
// and the apply (with force) takes them back.
func applyIfChanged[T client.Object, AC runtime.ApplyConfiguration](ctx context.Context, c client.Client,
	current T, exists bool, desired AC, extract func(T, string) (AC, error)) (applied bool, err error) {
	if exists {
		if observed, err := extract(current, FieldOwner); err == nil && equality.Semantic.DeepEqual(observed, desired) {
			return false, nil
		}
	}
	return true, c.Apply(ctx, desired, client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// ownerReference makes the tenant the controller of a child inside its namespace, so that the
// child's changes and deletion are watched and the garbage collector removes it with the
// tenant. The Namespace itself never gets one (see DESIGN.md: the garbage collector would
// delete it, and its data, with the owner).
func ownerReference(t *platformv1alpha1.TenantNamespace) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(platformv1alpha1.GroupVersion.String()).
		WithKind("TenantNamespace").
		WithName(t.Name).
		WithUID(t.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// childLabels mark a child as the operator's and name its tenant.
func childLabels(t *platformv1alpha1.TenantNamespace) map[string]string {
	return map[string]string{
		platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue,
		platformv1alpha1.LabelTenant:    t.Name,
	}
}
