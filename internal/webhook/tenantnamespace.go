package webhook

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantnamespace"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-tenantnamespace,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=tenantnamespaces,verbs=create;update;delete,versions=v1alpha1,name=vtenantnamespace.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=10

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantnamespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// Access says who is a platform admin and which names no tenant may take.
type Access struct {
	// AdminGroups may create, change and delete any tenant, and edit managed children.
	AdminGroups []string
	// AdminUsers are admins by name, the operator's own service account among them.
	AdminUsers []string
	// ProtectedNamespaces no tenant may take, besides default and kube-*.
	ProtectedNamespaces []string
}

func (a Access) isAdmin(u authnv1.UserInfo) bool {
	if slices.Contains(a.AdminUsers, u.Username) {
		return true
	}
	for _, g := range u.Groups {
		if slices.Contains(a.AdminGroups, g) {
			return true
		}
	}
	return false
}

// TenantNamespaceValidator admits TenantNamespaces: only their owners (or platform admins) may
// create, change or delete them, and what they ask for must stay within their class and their
// team's budget.
type TenantNamespaceValidator struct {
	// Reader reads classes and tenants from the manager's cache.
	Reader client.Reader
	// APIReader reads namespaces, which the cache holds only when managed.
	APIReader client.Reader
	Access    Access
}

// SetupTenantNamespaceWebhook registers the TenantNamespace validating webhook.
func SetupTenantNamespaceWebhook(mgr ctrl.Manager, access Access) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.TenantNamespace{}).
		WithValidator(&TenantNamespaceValidator{Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Access: access}).
		Complete()
}

var tenantGK = platformv1alpha1.GroupVersion.WithKind("TenantNamespace").GroupKind()

// ValidateCreate admits a new tenant requested by one of its owners or an admin, within its
// class and team budget, on a namespace name that is free (or released by the same team).
func (v *TenantNamespaceValidator) ValidateCreate(ctx context.Context, t *platformv1alpha1.TenantNamespace) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if !v.Access.isAdmin(req.UserInfo) && !isOwner(t.Spec.Owners, req.UserInfo) {
		return nil, forbidden(t, fmt.Sprintf("%s must list you (%s) among spec.owners, directly or through one of your groups %v; only owners and platform admins may request a tenant",
			t.Name, req.UserInfo.Username, req.UserInfo.Groups))
	}
	if err := v.validateName(ctx, t); err != nil {
		return nil, err
	}
	return v.validateSpec(ctx, t)
}

// ValidateUpdate lets only an existing owner or an admin change the spec; changes that leave
// the spec alone (the operator's finalizer, labels) pass.
func (v *TenantNamespaceValidator) ValidateUpdate(ctx context.Context, old, t *platformv1alpha1.TenantNamespace) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, t.Spec) || !t.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if !v.Access.isAdmin(req.UserInfo) && !isOwner(old.Spec.Owners, req.UserInfo) {
		return nil, forbidden(t, fmt.Sprintf("only the owners of %s (spec.owners) and platform admins may change it; %s is not one", t.Name, req.UserInfo.Username))
	}
	return v.validateSpec(ctx, t)
}

// ValidateDelete lets only an owner or an admin delete a tenant.
func (v *TenantNamespaceValidator) ValidateDelete(ctx context.Context, t *platformv1alpha1.TenantNamespace) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if !v.Access.isAdmin(req.UserInfo) && !isOwner(t.Spec.Owners, req.UserInfo) {
		return nil, forbidden(t, fmt.Sprintf("only the owners of %s (spec.owners) and platform admins may delete it; %s is not one", t.Name, req.UserInfo.Username))
	}
	return nil, nil
}

// isOwner reports whether the requester is one of the subjects, by user name, group or
// service account.
func isOwner(owners []platformv1alpha1.Subject, u authnv1.UserInfo) bool {
	for _, o := range owners {
		switch o.Kind {
		case "User":
			if o.Name == u.Username {
				return true
			}
		case "Group":
			if slices.Contains(u.Groups, o.Name) {
				return true
			}
		case "ServiceAccount":
			if u.Username == "system:serviceaccount:"+o.Namespace+":"+o.Name {
				return true
			}
		}
	}
	return false
}

func forbidden(t *platformv1alpha1.TenantNamespace, msg string) error {
	return apierrors.NewForbidden(platformv1alpha1.GroupVersion.WithResource("tenantnamespaces").GroupResource(), t.Name, fmt.Errorf("%s", msg))
}

// validateName refuses protected names and namespaces that exist and are not this tenant's to
// take.
func (v *TenantNamespaceValidator) validateName(ctx context.Context, t *platformv1alpha1.TenantNamespace) error {
	path := field.NewPath("metadata", "name")
	if slices.Contains(v.Access.ProtectedNamespaces, t.Name) {
		return invalid(t, field.Invalid(path, t.Name, fmt.Sprintf("namespace %q is protected by the platform team (protected: default, kube-*, %s)", t.Name, strings.Join(v.Access.ProtectedNamespaces, ", "))))
	}
	var ns corev1.Namespace
	err := v.APIReader.Get(ctx, client.ObjectKey{Name: t.Name}, &ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("reading namespace %s: %w", t.Name, err))
	}
	if !tenantnamespace.Adoptable(&ns, t) {
		return invalid(t, field.Invalid(path, t.Name, fmt.Sprintf("namespace %q already exists and is not a released namespace of team %s; selfserve never adopts a namespace it did not create: choose another name", t.Name, t.Spec.Team)))
	}
	return nil
}

// validateSpec checks the spec against the class's guard rails and the team's budget.
func (v *TenantNamespaceValidator) validateSpec(ctx context.Context, t *platformv1alpha1.TenantNamespace) (admission.Warnings, error) {
	spec := field.NewPath("spec")
	class, err := v.class(ctx, t)
	if err != nil {
		return nil, err
	}
	if class == nil {
		if t.Spec.Class != "" {
			return nil, invalid(t, field.NotFound(spec.Child("class"), t.Spec.Class))
		}
		return nil, invalid(t, field.Required(spec.Child("class"), "no TenantClass is the cluster default; name a class"))
	}
	cs := class.Spec
	var errs field.ErrorList

	quota := cs.Quota.Default
	if t.Spec.Quota != nil {
		quota = t.Spec.Quota.Hard
		errs = append(errs, withinMax(spec.Child("quota", "hard"), quota, cs.Quota.Max, "the maximum of class "+class.Name)...)
	}
	if t.Spec.PodSecurity != "" && cs.PodSecurity.Minimum != "" && psaRank(t.Spec.PodSecurity) < psaRank(cs.PodSecurity.Minimum) {
		errs = append(errs, field.Invalid(spec.Child("podSecurity"), t.Spec.PodSecurity,
			fmt.Sprintf("class %s requires at least %s (privileged < baseline < restricted)", class.Name, cs.PodSecurity.Minimum)))
	}
	if t.Spec.NetworkIsolation != "" && len(cs.NetworkIsolation.Allowed) > 0 && !slices.Contains(cs.NetworkIsolation.Allowed, t.Spec.NetworkIsolation) {
		errs = append(errs, field.NotSupported(spec.Child("networkIsolation"), t.Spec.NetworkIsolation, toStrings(cs.NetworkIsolation.Allowed)))
	}
	for i, b := range t.Spec.RoleBindings {
		if !slices.Contains(cs.AllowedClusterRoles, b.ClusterRole) {
			errs = append(errs, field.Invalid(spec.Child("roleBindings").Index(i).Child("clusterRole"), b.ClusterRole,
				fmt.Sprintf("class %s allows binding only %v (owners always get admin)", class.Name, cs.AllowedClusterRoles)))
		}
	}
	errs = append(errs, prefixed(spec.Child("labels"), t.Spec.Labels, cs.AllowedLabelPrefixes, class.Name)...)
	errs = append(errs, prefixed(spec.Child("annotations"), t.Spec.Annotations, cs.AllowedAnnotationPrefixes, class.Name)...)
	if len(errs) == 0 && cs.TeamBudget != nil {
		budgetErrs, err := v.teamBudget(ctx, t, class, quota)
		if err != nil {
			return nil, err
		}
		errs = append(errs, budgetErrs...)
	}
	if len(errs) > 0 {
		return nil, invalid(t, errs...)
	}
	return nil, nil
}

func (v *TenantNamespaceValidator) class(ctx context.Context, t *platformv1alpha1.TenantNamespace) (*platformv1alpha1.TenantClass, error) {
	if t.Spec.Class != "" {
		var tc platformv1alpha1.TenantClass
		err := v.Reader.Get(ctx, client.ObjectKey{Name: t.Spec.Class}, &tc)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		return &tc, nil
	}
	var list platformv1alpha1.TenantClassList
	if err := v.Reader.List(ctx, &list); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	for i := range list.Items {
		if list.Items[i].Spec.IsDefault {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// teamBudget checks the team's namespace count and summed quota in the class, counting this
// tenant in place of its previous version.
func (v *TenantNamespaceValidator) teamBudget(ctx context.Context, t *platformv1alpha1.TenantNamespace, class *platformv1alpha1.TenantClass, quota corev1.ResourceList) (field.ErrorList, error) {
	var tenants platformv1alpha1.TenantNamespaceList
	if err := v.Reader.List(ctx, &tenants); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	budget := class.Spec.TeamBudget
	count := 1
	sum := quota.DeepCopy()
	if sum == nil {
		sum = corev1.ResourceList{}
	}
	var others []string
	for _, o := range tenants.Items {
		if o.Name == t.Name || o.Spec.Team != t.Spec.Team || !o.DeletionTimestamp.IsZero() || !sameClass(&o, class) {
			continue
		}
		count++
		others = append(others, o.Name)
		q := class.Spec.Quota.Default
		if o.Spec.Quota != nil {
			q = o.Spec.Quota.Hard
		}
		for name, val := range q {
			cur := sum[name]
			cur.Add(val)
			sum[name] = cur
		}
	}
	sort.Strings(others)
	var errs field.ErrorList
	if budget.MaxNamespaces != nil && count > int(*budget.MaxNamespaces) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "team"),
			fmt.Sprintf("team %s would have %d namespaces in class %s, more than its budget of %d (it has %v)", t.Spec.Team, count, class.Name, *budget.MaxNamespaces, others)))
	}
	errs = append(errs, withinMax(field.NewPath("spec", "quota", "hard"), sum, budget.MaxQuota,
		fmt.Sprintf("team %s's budget in class %s, summed over its namespaces", t.Spec.Team, class.Name))...)
	return errs, nil
}

// sameClass reports whether a tenant is of the given class, naming it or through the default.
func sameClass(t *platformv1alpha1.TenantNamespace, class *platformv1alpha1.TenantClass) bool {
	return t.Spec.Class == class.Name || (t.Spec.Class == "" && class.Spec.IsDefault)
}

// withinMax lists the resources of asked that exceed max (resources max does not name are not
// capped).
func withinMax(path *field.Path, asked, max corev1.ResourceList, what string) field.ErrorList {
	var errs field.ErrorList
	names := make([]string, 0, len(asked))
	for name := range asked {
		names = append(names, string(name))
	}
	sort.Strings(names)
	for _, name := range names {
		limit, ok := max[corev1.ResourceName(name)]
		q := asked[corev1.ResourceName(name)]
		if ok && q.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(path.Key(name), q.String(), fmt.Sprintf("exceeds %s: %s", what, limit.String())))
		}
	}
	return errs
}

func prefixed(path *field.Path, m map[string]string, allowed []string, class string) field.ErrorList {
	var errs field.ErrorList
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ok := false
		for _, p := range allowed {
			ok = ok || strings.HasPrefix(k, p)
		}
		if !ok {
			errs = append(errs, field.Forbidden(path.Key(k), fmt.Sprintf("class %s allows only the prefixes %v", class, allowed)))
		}
	}
	return errs
}

func psaRank(l platformv1alpha1.PodSecurityLevel) int {
	return slices.Index([]platformv1alpha1.PodSecurityLevel{platformv1alpha1.PodSecurityPrivileged, platformv1alpha1.PodSecurityBaseline, platformv1alpha1.PodSecurityRestricted}, l)
}

func toStrings[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

func invalid(t *platformv1alpha1.TenantNamespace, errs ...*field.Error) error {
	return apierrors.NewInvalid(tenantGK, t.Name, errs)
}
