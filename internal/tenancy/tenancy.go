package tenancy

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Reasons of a refusal, used as the condition reason of a tenant that waits.
const (
	ReasonTeamNotFound    = "TeamNotFound"
	ReasonClassNotFound   = "ClassNotFound"
	ReasonClassNotAllowed = "ClassNotAllowed"
	ReasonOverBudget      = "OverBudget"
)

// Refusal says why a tenant cannot be provisioned (or admitted) as it is: which field, why,
// and the reason a condition reports. The tenant waits until the spec or the cluster changes.
type Refusal struct {
	Reason string
	// Field is the spec field the refusal is about.
	Field *field.Path
	// Message explains it, naming what would be allowed.
	Message string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%s: %s", r.Field, r.Message) }

// FieldError is the refusal as admission reports it.
func (r *Refusal) FieldError() *field.Error {
	if r.Reason == ReasonOverBudget {
		return field.Forbidden(r.Field, r.Message)
	}
	return InvalidWithoutValue(r.Field, r.Message)
}

// InvalidWithoutValue is an Invalid field error whose message has no value to quote (the
// reason names what is wrong).
func InvalidWithoutValue(path *field.Path, detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeInvalid, Field: path.String(), BadValue: field.OmitValueType{}, Detail: detail}
}

// IsWaitingReason reports whether a condition reason is one of a tenant waiting for a guard
// rail (a missing team or class, a class its team may not use, no budget left): the tenant is
// Stalled until someone changes the spec, the Team or the class.
func IsWaitingReason(reason string) bool {
	switch reason {
	case ReasonTeamNotFound, ReasonClassNotFound, ReasonClassNotAllowed, ReasonOverBudget, ReasonAwaitingApproval, ReasonRejected:
		return true
	}
	return false
}

// TeamIndex indexes TenantNamespaces by spec.team in the manager's cache.
const TeamIndex = "spec.team"

// NamespaceTeamIndex indexes the cached (managed) Namespaces by their team label.
const NamespaceTeamIndex = "metadata.labels.team"

// IndexByTeam registers TeamIndex and NamespaceTeamIndex; the operator does it once for the
// webhook and controllers.
func IndexByTeam(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &platformv1alpha1.TenantNamespace{}, TeamIndex,
		func(o client.Object) []string { return []string{o.(*platformv1alpha1.TenantNamespace).Spec.Team} }); err != nil {
		return err
	}
	return indexer.IndexField(ctx, &corev1.Namespace{}, NamespaceTeamIndex, func(o client.Object) []string {
		if team := o.GetLabels()[platformv1alpha1.LabelTeam]; team != "" {
			return []string{team}
		}
		return nil
	})
}
