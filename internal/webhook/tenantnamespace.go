package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-tenantnamespace,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=tenantnamespaces,verbs=create;update;delete,versions=v1alpha1,name=vtenantnamespace.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=10

// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=tenantnamespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.selfserve.dev,resources=teams,verbs=get;list;watch
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

// protected is the list of protected namespaces as the tenancy rules take it.
func (a Access) protected() tenancy.Protected { return tenancy.Protected(a.ProtectedNamespaces) }

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

// TenantNamespaceValidator admits TenantNamespaces: only members of the tenant's Team who are
// among its owners (or platform admins) may create, change or delete them, and what they ask
// for must stay within their class and their team's budget. The rules themselves are in
// internal/tenancy, which the controller applies again before it provisions anything.
type TenantNamespaceValidator struct {
	// Reader reads teams, classes and tenants from the manager's cache.
	Reader client.Reader
	// APIReader reads namespaces, which the cache holds only when managed, and teams and classes
	// the cache does not hold yet (created a moment before the tenant, as one apply does).
	APIReader client.Reader
	// Writer sends the server-side dry runs of the tenant's ResourceQuota and LimitRange.
	Writer client.Client
	Access Access
	// DNS says the cluster domain, which starts every pod's search list.
	DNS nodelocaldns.Settings
}

// SetupTenantNamespaceWebhook registers the TenantNamespace validating webhook.
func SetupTenantNamespaceWebhook(mgr ctrl.Manager, access Access, dns nodelocaldns.Settings) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.TenantNamespace{}).
		WithValidator(&TenantNamespaceValidator{Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Writer: mgr.GetClient(), Access: access, DNS: dns}).
		Complete()
}

var tenantGK = platformv1alpha1.GroupVersion.WithKind("TenantNamespace").GroupKind()

// ValidateCreate admits a new tenant requested by a member of its team among its owners (or an
// admin), within its class and team budget, on a namespace name that is free (or released by
// the same team).
func (v *TenantNamespaceValidator) ValidateCreate(ctx context.Context, t *platformv1alpha1.TenantNamespace) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if err := v.authorize(ctx, t, t.Spec.Owners, req.UserInfo, "request"); err != nil {
		return nil, err
	}
	if err := v.validateName(ctx, t); err != nil {
		return nil, err
	}
	if len(t.OwnerReferences) > 0 && !v.Access.isAdmin(req.UserInfo) {
		return nil, forbidden(t, "metadata.ownerReferences: only platform admins may make a TenantNamespace depend on another object (the garbage collector would delete it, and with deletionPolicy Delete its namespace, when that object goes)")
	}
	return v.validateSpec(ctx, nil, t)
}

// ValidateUpdate lets only an existing owner who is a member of the team (or an admin) change
// the tenant — its spec, and its metadata too: labels, annotations, finalizers, owner
// references — also while it is being deleted. Owners may not make it depend on another object
// (the garbage collector would delete it) nor take away the operator's finalizer (the
// namespace would outlive a Delete tenant unreleased). The operator is an admin; the garbage
// collector and the namespace controller may change metadata only.
func (v *TenantNamespaceValidator) ValidateUpdate(ctx context.Context, old, t *platformv1alpha1.TenantNamespace) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	u := req.UserInfo
	specChanged := !equality.Semantic.DeepEqual(old.Spec, t.Spec)
	if !v.Access.isAdmin(u) && (specChanged || !slices.Contains(systemActors, u.Username)) {
		if err := v.authorize(ctx, old, old.Spec.Owners, u, "change"); err != nil {
			return nil, err
		}
		if !equality.Semantic.DeepEqual(old.OwnerReferences, t.OwnerReferences) {
			return nil, forbidden(t, "metadata.ownerReferences: only platform admins may change what a TenantNamespace depends on (the garbage collector would delete it, and with deletionPolicy Delete its namespace, when that object goes)")
		}
		if slices.Contains(old.Finalizers, tenancy.Finalizer) && !slices.Contains(t.Finalizers, tenancy.Finalizer) {
			return nil, forbidden(t, fmt.Sprintf("metadata.finalizers: %s is the operator's; it removes it once the namespace is deleted or released", tenancy.Finalizer))
		}
	}
	if !specChanged {
		return nil, nil
	}
	return v.validateSpec(ctx, old, t)
}

// ValidateDelete lets only an owner who is a member of the team (or an admin) delete a tenant.
func (v *TenantNamespaceValidator) ValidateDelete(ctx context.Context, t *platformv1alpha1.TenantNamespace) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return nil, v.authorize(ctx, t, t.Spec.Owners, req.UserInfo, "delete")
}

// authorize lets an admin do anything; anyone else must be a member of the tenant's Team and
// one of its owners (for an update, the owners before the change).
func (v *TenantNamespaceValidator) authorize(ctx context.Context, t *platformv1alpha1.TenantNamespace, owners []platformv1alpha1.Subject, u authnv1.UserInfo, verb string) error {
	if v.Access.isAdmin(u) {
		return nil
	}
	team, err := tenancy.ResolveTeam(ctx, v.reader(), t)
	var refusal *tenancy.Refusal
	if errors.As(err, &refusal) {
		return forbidden(t, fmt.Sprintf("%s; only members of an existing Team and platform admins may %s a TenantNamespace", refusal.Message, verb))
	}
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	member, err := tenancy.IsMember(ctx, v.reader(), team, u, v.Access.protected())
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if !member {
		return forbidden(t, fmt.Sprintf("spec.team: you (%s, groups %v) are not a member of Team %s; only its members and platform admins may %s its TenantNamespaces",
			u.Username, u.Groups, team.Name, verb))
	}
	if !tenancy.Matches(owners, u) {
		if verb == "request" {
			return forbidden(t, fmt.Sprintf("%s must list you (%s) among spec.owners, directly or through one of your groups %v; only owners and platform admins may request a tenant",
				t.Name, u.Username, u.Groups))
		}
		return forbidden(t, fmt.Sprintf("only the owners of %s (spec.owners) and platform admins may %s it; %s is not one", t.Name, verb, u.Username))
	}
	return nil
}

func forbidden(t *platformv1alpha1.TenantNamespace, msg string) error {
	return apierrors.NewForbidden(platformv1alpha1.GroupVersion.WithResource("tenantnamespaces").GroupResource(), t.Name, fmt.Errorf("%s", msg))
}

// reader reads through the cache and asks the apiserver about what the cache does not hold.
func (v *TenantNamespaceValidator) reader() client.Reader {
	return tenancy.CacheFirst{Cache: v.Reader, API: v.APIReader}
}

// validateName refuses protected names and namespaces that exist and are not this tenant's to
// take.
func (v *TenantNamespaceValidator) validateName(ctx context.Context, t *platformv1alpha1.TenantNamespace) error {
	path := field.NewPath("metadata", "name")
	if p := v.Access.protected(); p.Has(t.Name) {
		return invalid(t, field.Invalid(path, t.Name, fmt.Sprintf("namespace %q is protected by the platform team (protected: %s)", t.Name, p)))
	}
	err := tenancy.CheckClaim(ctx, v.Reader, t)
	var refusal *tenancy.Refusal
	if errors.As(err, &refusal) {
		return forbidden(t, refusal.Error())
	}
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var ns corev1.Namespace
	err = v.APIReader.Get(ctx, client.ObjectKey{Name: t.Name}, &ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("reading namespace %s: %w", t.Name, err))
	}
	team, _ := tenancy.ResolveTeam(ctx, v.reader(), t) // a missing Team is refused with the spec
	if !tenancy.Adoptable(&ns, t, team) {
		return invalid(t, field.Invalid(path, t.Name, fmt.Sprintf("namespace %q already exists and is not a released namespace of team %s; selfserve never adopts a namespace it did not create: choose another name", t.Name, t.Spec.Team)))
	}
	return nil
}

// validateSpec checks the spec against its team, its class's guard rails and the team's
// budget (for an update, only what grows: old is the tenant before, nil on create), and that
// everything it makes of it is something the apiserver will accept.
func (v *TenantNamespaceValidator) validateSpec(ctx context.Context, old, t *platformv1alpha1.TenantNamespace) (admission.Warnings, error) {
	team, class, err := tenancy.Resolve(ctx, v.reader(), t)
	var refusal *tenancy.Refusal
	if errors.As(err, &refusal) {
		return nil, invalid(t, refusal.FieldError())
	}
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	// What a platform admin may approve (quota, container limits, a role binding beyond the
	// class) is admitted and waits for approval; the rest of the guard rails refuse.
	approvable, errs := tenancy.SplitApprovable(tenancy.CheckClass(t, class))
	errs = append(errs, tenancy.CheckSubjects(t, v.Access.protected())...)
	var ownersBefore []platformv1alpha1.Subject
	if old != nil {
		ownersBefore = old.Spec.Owners
	}
	errs = append(errs, tenancy.CheckOwnersAreMembers(team, t, ownersBefore)...)
	errs = append(errs, monitoringRefusals(old, t, class, team)...)
	if old != nil && len(approvable) > 0 {
		// What the tenant's approval grants and what its namespace already holds are kept
		// without a new approval (the controller decides the same way): only the rest waits.
		if approvable, _, _, _, err = tenancy.Kept(ctx, old, approvable, func(ctx context.Context) (tenancy.Holding, error) {
			return tenancy.ReadHolding(ctx, v.APIReader, old)
		}); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	approvable, unbindable, err := v.splitUnbindable(ctx, t, approvable)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	errs = append(errs, unbindable...)
	var warnings admission.Warnings
	for _, e := range approvable {
		warnings = append(warnings, e.Error()+": needs a platform admin's approval (kubectl get tenantnamespace "+t.Name+" -o jsonpath='{.status.pendingApproval}'); until then the tenant gets what the class allows")
	}
	childErrs, err := v.validateChildren(ctx, t, class)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	errs = append(errs, childErrs...)
	if len(errs) == 0 && team.Spec.Budget != nil {
		held, err := v.held(ctx, t)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		var before corev1.ResourceList
		if old != nil {
			before = tenancy.EffectiveQuota(old, class)
		}
		errs = append(errs, tenancy.CheckBudgetChange(team, held, before, tenancy.EffectiveQuota(t, class), old == nil)...)
	}
	if len(errs) > 0 {
		return nil, invalid(t, errs...)
	}
	return warnings, nil
}

// splitUnbindable refuses, among the bindings that would wait for approval, those to a
// ClusterRole the operator itself may not bind: no approval could ever provision them.
func (v *TenantNamespaceValidator) splitUnbindable(ctx context.Context, t *platformv1alpha1.TenantNamespace, approvable field.ErrorList) (keep, refused field.ErrorList, err error) {
	for _, e := range approvable {
		role, isBinding := e.BadValue.(string)
		if !isBinding || !strings.HasPrefix(e.Field, "spec.roleBindings[") {
			keep = append(keep, e)
			continue
		}
		may, err := operatorMayBind(ctx, v.Writer, role)
		if err != nil {
			return nil, nil, fmt.Errorf("asking whether the operator may bind ClusterRole %s: %w", role, err)
		}
		if may {
			keep = append(keep, e)
			continue
		}
		refused = append(refused, field.Forbidden(field.NewPath(e.Field), fmt.Sprintf(
			"the operator may not bind ClusterRole %q, so no approval could provision it; an SRE grants it first (Helm value bindableClusterRoles)", role)))
	}
	return keep, refused, nil
}

// validateChildren refuses what the apiserver would refuse in the objects the operator makes of
// the spec: namespace labels and annotations (its validators), the pods' DNS search list (its
// limits), the ResourceQuota and the LimitRange (a server-side dry run).
func (v *TenantNamespaceValidator) validateChildren(ctx context.Context, t *platformv1alpha1.TenantNamespace, class *platformv1alpha1.TenantClass) (field.ErrorList, error) {
	spec := field.NewPath("spec")
	errs := tenancy.CheckNamespaceMeta(t)
	if msg := v.DNS.SearchListTooLong(t.Name, nodelocaldns.Effective(t, class)); msg != "" {
		errs = append(errs, tenancy.InvalidWithoutValue(spec.Child("dns", "searches"), msg))
	}
	eff := tenancy.Effective(t, class)
	dry := dryRun{client: v.Writer}
	quotaErrs, err := dry.quota(ctx, eff.Quota, spec.Child("quota", "hard"))
	if err != nil {
		return nil, err
	}
	limitErrs, err := dry.limits(ctx, eff.Limits, spec.Child("limits"))
	if err != nil {
		return nil, err
	}
	return append(append(errs, quotaErrs...), limitErrs...), nil
}

// held sums the team's other tenants that are not being deleted, each with the quota its
// ResourceQuota holds. Admission counts every such tenant, provisioned or waiting; the
// controller, which decides who gets a namespace, counts only those that hold one.
func (v *TenantNamespaceValidator) held(ctx context.Context, t *platformv1alpha1.TenantNamespace) (tenancy.Held, error) {
	var held tenancy.Held
	var tenants platformv1alpha1.TenantNamespaceList
	if err := v.Reader.List(ctx, &tenants, client.MatchingFields{tenancy.TeamIndex: t.Spec.Team}); err != nil {
		return held, err
	}
	classes := tenancy.NewClasses(v.Reader)
	for i := range tenants.Items {
		o := &tenants.Items[i]
		if o.Name == t.Name || !o.DeletionTimestamp.IsZero() {
			continue
		}
		held.Add(o.Name, classes.HeldQuota(ctx, o))
	}
	managed, err := tenancy.ListTeamNamespaces(ctx, v.Reader, t.Spec.Team)
	if err != nil {
		return held, err
	}
	return held, held.AddReleased(ctx, v.APIReader, t.Spec.Team, managed, t.Name)
}

func invalid(t *platformv1alpha1.TenantNamespace, errs ...*field.Error) error {
	return apierrors.NewInvalid(tenantGK, t.Name, errs)
}

// monitoringRefusals refuses the tenant's monitor thresholds that do not apply (looser than the
// class's, or for a monitor it does not have), except those an update leaves as they were: a
// class tightened under a tenant must not block its unrelated edits (the class's applies).
func monitoringRefusals(old, t *platformv1alpha1.TenantNamespace, class *platformv1alpha1.TenantClass, team *platformv1alpha1.Team) field.ErrorList {
	_, errs := tenancy.BaselineMonitors(t, class, team)
	if old == nil || old.Spec.Monitoring == nil || t.Spec.Monitoring == nil {
		return errs
	}
	var out field.ErrorList
	for _, e := range errs {
		i := thresholdIndex(e.Field)
		if i >= 0 && i < len(t.Spec.Monitoring.Thresholds) && slices.Contains(old.Spec.Monitoring.Thresholds, t.Spec.Monitoring.Thresholds[i]) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// thresholdIndex is the index in spec.monitoring.thresholds that a field path names, -1 if none.
func thresholdIndex(path string) int {
	rest, ok := strings.CutPrefix(path, "spec.monitoring.thresholds[")
	end := strings.IndexByte(rest, ']')
	if !ok || end < 0 {
		return -1
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil {
		return -1
	}
	return n
}
