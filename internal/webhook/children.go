package webhook

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// The guard is called only for objects labelled managed-by=selfserve, and never for the
// garbage collector, the namespace controller or cluster admins (matchConditions): their
// deletes must go through even while the operator is down, or namespace deletion would hang.
//
// +kubebuilder:webhook:path=/validate-selfserve-managed-children,mutating=false,failurePolicy=fail,sideEffects=None,groups="";rbac.authorization.k8s.io;networking.k8s.io,resources=resourcequotas;limitranges;rolebindings;networkpolicies,verbs=update;delete,versions=v1,name=vmanagedchildren.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"objectSelector":{"matchLabels":{"app.kubernetes.io/managed-by":"selfserve"}},"matchConditions":[{"name":"not-system-controllers","expression":"!(request.userInfo.username in ['system:kube-controller-manager', 'system:serviceaccount:kube-system:generic-garbage-collector', 'system:serviceaccount:kube-system:namespace-controller'])"},{"name":"not-cluster-admins","expression":"!('system:masters' in request.userInfo.groups)"}]}`

// ChildGuardPath is where the managed-children guard is served.
const ChildGuardPath = "/validate-selfserve-managed-children"

// systemActors may always change managed children: they delete them with their namespace or
// their owner. matchConditions keep them from reaching the guard at all; this list is the
// second line.
var systemActors = []string{
	"system:kube-controller-manager",
	"system:serviceaccount:kube-system:generic-garbage-collector",
	"system:serviceaccount:kube-system:namespace-controller",
}

// ChildGuard refuses edits and deletions of the RoleBindings, ResourceQuota, LimitRange and
// NetworkPolicy the operator manages, unless they come from the operator, a platform admin or
// the cluster's own controllers, or the namespace is being deleted. Without it, the admin role
// a tenant's owners hold would let them delete their own isolation.
type ChildGuard struct {
	Access Access
	// APIReader reads the namespace, to let everything through while it terminates.
	APIReader client.Reader
}

// Handle answers one admission request.
func (g *ChildGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	u := req.UserInfo
	if g.Access.isAdmin(u) || slices.Contains(systemActors, u.Username) {
		return admission.Allowed("")
	}
	var ns corev1.Namespace
	if err := g.APIReader.Get(ctx, client.ObjectKey{Name: req.Namespace}, &ns); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return admission.Allowed("namespace is gone")
		}
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		return admission.Allowed("namespace is terminating")
	}
	var obj unstructured.Unstructured
	raw := req.OldObject.Raw
	if len(raw) == 0 {
		raw = req.Object.Raw
	}
	_ = obj.UnmarshalJSON(raw)
	tenant := obj.GetLabels()[platformv1alpha1.LabelTenant]
	verb := map[string]string{"UPDATE": "changed", "DELETE": "deleted"}[string(req.Operation)]
	return admission.Denied(fmt.Sprintf("%s %s/%s is managed by selfserve for TenantNamespace %s and cannot be %s by %s; change the TenantNamespace instead (only the operator and platform admins may touch it)",
		req.Kind.Kind, req.Namespace, req.Name, tenant, verb, u.Username))
}
