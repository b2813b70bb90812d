package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-tenantnamespace-status,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=tenantnamespaces/status,verbs=update,versions=v1alpha1,name=vtenantnamespaceapproval.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"matchConditions":[{"name":"approval-changed","expression":"(has(object.status) && has(object.status.approval)) != (has(oldObject.status) && has(oldObject.status.approval)) || (has(object.status) && has(object.status.approval) && object.status.approval != oldObject.status.approval)"}]}`

// ApprovalPath serves the ApprovalGuard.
const ApprovalPath = "/validate-platform-selfserve-dev-v1alpha1-tenantnamespace-status"

// ApprovalGuard lets only platform admins decide on a spec beyond its class: a change of a
// TenantNamespace's status.approval (through the status subresource, which no manifest apply
// reaches, so an approval is never a commit a developer can make) must come from an admin, name
// that admin as its author, and name the tenant's spec as it is now. The matchConditions send
// it only the status writes that change the approval; the operator's own never do.
type ApprovalGuard struct {
	Access Access
}

// Handle answers one admission request.
func (g *ApprovalGuard) Handle(_ context.Context, req admission.Request) admission.Response {
	var old, cur platformv1alpha1.TenantNamespace
	if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if err := json.Unmarshal(req.Object.Raw, &cur); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if equality.Semantic.DeepEqual(old.Status.Approval, cur.Status.Approval) {
		return admission.Allowed("")
	}
	u := req.UserInfo
	if !g.Access.isAdmin(u) {
		return admission.Denied(fmt.Sprintf("status.approval: only platform admins decide on a spec beyond its class, and %s is not one", u.Username))
	}
	if grantsOnly(old.Status.Approval, cur.Status.Approval) {
		return admission.Allowed("the operator records what the decision grants")
	}
	a := cur.Status.Approval
	if a == nil {
		return admission.Allowed("approval withdrawn")
	}
	if a.By != u.Username {
		return admission.Denied(fmt.Sprintf("status.approval.by: %q must be you, %q: a decision names its author", a.By, u.Username))
	}
	if hash := tenancy.SpecHash(&cur); a.SpecHash != hash {
		return admission.Denied(fmt.Sprintf("status.approval.specHash: %s is not the spec of TenantNamespace %s as it is now (%s); it changed since: decide on status.pendingApproval.specHash", a.SpecHash, cur.Name, hash))
	}
	return admission.Allowed("")
}

// grantsOnly reports whether a change of the approval changes its grants only: the operator
// recording what an admin's decision grants (it is one of the admins), with the decision itself
// untouched.
func grantsOnly(old, cur *platformv1alpha1.Approval) bool {
	if old == nil || cur == nil {
		return false
	}
	o, c := *old, *cur
	o.Grants, c.Grants = nil, nil
	return o == c
}
