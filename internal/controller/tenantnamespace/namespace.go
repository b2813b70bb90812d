package tenantnamespace

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Labels of a namespace beyond the tenant link.
const (
	// LabelReleased marks a released namespace (see tenancy.LabelReleased).
	LabelReleased = tenancy.LabelReleased

	labelPSAEnforce = "pod-security.kubernetes.io/enforce"
	labelPSAWarn    = "pod-security.kubernetes.io/warn"
	labelPSAAudit   = "pod-security.kubernetes.io/audit"
)

// Reasons of the NamespaceReady condition.
const (
	ReasonProvisioned     = "Provisioned"
	ReasonProtected       = "ProtectedNamespace"
	ReasonNamespaceExists = "NamespaceExists"
	ReasonTerminating     = "NamespaceTerminating"
)

// reconcileNamespace creates the namespace, or adopts it when it is this tenant's (or was
// released by a tenant of the same name and team), and keeps its labels and annotations in
// place. It sets NamespaceReady. A protected name or someone else's namespace stops the tenant
// (Stalled) until the spec or the cluster changes: the operator never takes over a namespace it
// did not create.
func (r *Reconciler) reconcileNamespace(ctx context.Context, s *scope) (ctrl.Result, error) {
	name := s.tenant.Name
	if r.isProtected(name) {
		msg := fmt.Sprintf("namespace %q is protected (%s); selfserve does not manage it", name, r.protected())
		s.setCondition(platformv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, ReasonProtected, msg)
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("%s", msg))
	}

	var ns corev1.Namespace
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, &ns)
	exists := err == nil
	if apierrors.IsNotFound(err) {
		// The cache holds managed namespaces only; ask the apiserver whether an unmanaged (or
		// released) one of that name exists before creating anything.
		err = r.APIReader.Get(ctx, client.ObjectKey{Name: name}, &ns)
		switch {
		case apierrors.IsNotFound(err):
			err = nil
		case err == nil:
			exists = true
			if !tenancy.Adoptable(&ns, s.tenant, s.team) {
				msg := fmt.Sprintf("namespace %q already exists and is not this tenant's; selfserve never adopts a namespace it did not create (delete it or choose another name)", name)
				s.setCondition(platformv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, ReasonNamespaceExists, msg)
				return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("%s", msg))
			}
		}
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading namespace %s: %w", name, err)
	}
	if exists && ns.DeletionTimestamp != nil {
		s.setCondition(platformv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, ReasonTerminating,
			fmt.Sprintf("namespace %q is being deleted; it will be created again once it is gone", name))
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if exists && !tenancy.Adoptable(&ns, s.tenant, s.team) {
		// In the cache but labelled for another tenant (or for the deleted tenant of another
		// team this name had, not released yet): never take it over.
		msg := fmt.Sprintf("namespace %q belongs to tenant %q of team %q", name, ns.Labels[platformv1alpha1.LabelTenant], ns.Labels[platformv1alpha1.LabelTeam])
		s.setCondition(platformv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, ReasonNamespaceExists, msg)
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("%s", msg))
	}

	if !exists || ns.Labels[LabelReleased] == "true" {
		// Creating or adopting: never a namespace another team's ServiceAccount members live in.
		err := tenancy.CheckClaim(ctx, r.Client, s.tenant)
		var refusal *tenancy.Refusal
		if errors.As(err, &refusal) {
			s.setCondition(platformv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, refusal.Reason, refusal.Message)
			return ctrl.Result{}, reconcile.TerminalError(refusal)
		}
		if err != nil {
			return ctrl.Result{}, err
		}
	}

	applied, err := applyChild(ctx, r, s, "Namespace", name, &ns, exists, r.desiredNamespace(s))
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("applying namespace %s: %w", name, err)
	}
	if exists && ns.Labels[LabelReleased] == "true" {
		// Taken back: the tenant's own quota and isolation replace the fence.
		if err := r.unfence(ctx, name); err != nil {
			return ctrl.Result{}, err
		}
	}
	s.created = applied && !exists
	s.setCondition(platformv1alpha1.ConditionNamespaceReady, metav1.ConditionTrue, ReasonProvisioned,
		fmt.Sprintf("namespace %q is ready with Pod Security level %s", name, s.PodSecurity))
	return ctrl.Result{}, nil
}

// desiredNamespace is the namespace as the operator applies it: the tenant link, team, Pod
// Security labels and the tenant's extra labels and annotations.
func (r *Reconciler) desiredNamespace(s *scope) *corev1ac.NamespaceApplyConfiguration {
	labels := maps.Clone(s.tenant.Spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, childLabels(s.tenant))
	labels[platformv1alpha1.LabelTeam] = s.tenant.Spec.Team
	if s.class != nil {
		labels[platformv1alpha1.LabelClass] = s.class.Name
	}
	level := string(s.PodSecurity)
	labels[labelPSAEnforce] = level
	labels[labelPSAWarn] = level
	labels[labelPSAAudit] = level
	if s.dnsInjection != "" {
		labels[nodelocaldns.LabelInjection] = s.dnsInjection
	}
	ns := corev1ac.Namespace(s.tenant.Name).WithLabels(labels)
	// The guard rails' annotations win over the tenant's (whose schema reserves the prefix).
	annotations := maps.Clone(s.tenant.Spec.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	maps.Copy(annotations, r.guardRailAnnotations(s))
	maps.Copy(annotations, s.dnsAnnotations)
	if len(annotations) > 0 {
		ns.WithAnnotations(annotations)
	}
	return ns
}

// Annotations through which the admission policies of config/policy (enforced by kube-apiserver
// itself) learn the class's rules for what tenant admins create in the namespace.
const (
	// AnnotationAllowedBroadSubjects lists the identities that stand for everyone which the
	// class allows as binding subjects (tenant.Spec's rules, for RoleBindings its admins make).
	AnnotationAllowedBroadSubjects = "platform.selfserve.dev/allowed-broad-subjects"
	// AnnotationIsolation is Namespace when the class allows no wider isolation: NetworkPolicies
	// its admins make may then admit ingress only from the namespace itself.
	AnnotationIsolation = "platform.selfserve.dev/isolation"
	// AnnotationProtectedNamespaces lists the protected namespaces besides default and kube-*
	// (the operator's own and --protected-namespaces), whose ServiceAccounts its admins may not
	// bind.
	AnnotationProtectedNamespaces = "platform.selfserve.dev/protected-namespaces"
)

// guardRailAnnotations are the namespace annotations the admission policies read: the
// protected namespaces, and the class's rules (none for a class that allows no broad subject
// and more than Namespace isolation).
func (r *Reconciler) guardRailAnnotations(s *scope) map[string]string {
	out := map[string]string{}
	if p := r.protected(); len(p) > 0 {
		out[AnnotationProtectedNamespaces] = strings.Join(p, ",")
	}
	if s.class == nil {
		return out
	}
	if broad := s.class.Spec.AllowedBroadSubjects; len(broad) > 0 {
		out[AnnotationAllowedBroadSubjects] = strings.Join(slices.Sorted(slices.Values(broad)), ",")
	}
	if allowed := tenancy.AllowedIsolation(s.class); len(allowed) == 1 && allowed[0] == platformv1alpha1.NetworkIsolationNamespace {
		out[AnnotationIsolation] = string(platformv1alpha1.NetworkIsolationNamespace)
	}
	return out
}

// releasedNamespace is what stays applied after a Retain deletion: whatever the operator's field
// manager applied (the team, the Pod Security labels, so the namespace keeps its protection, and
// the tenant's own labels and annotations) less the tenant link, the managed-by and DNS
// injection labels, plus the release mark. Dropping managed-by takes the namespace out of the
// operator's cache and watches. It is read from the namespace's managed fields, so it needs no
// TenantNamespace: the tenant may already be gone.
func releasedNamespace(ns *corev1.Namespace, teamUID string) (*corev1ac.NamespaceApplyConfiguration, error) {
	owned, err := corev1ac.ExtractNamespace(ns, FieldOwner)
	if err != nil {
		return nil, err
	}
	labels := maps.Clone(owned.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	for _, k := range []string{platformv1alpha1.LabelManagedBy, platformv1alpha1.LabelTenant, nodelocaldns.LabelInjection} {
		delete(labels, k)
	}
	if team := ns.Labels[platformv1alpha1.LabelTeam]; team != "" {
		labels[platformv1alpha1.LabelTeam] = team
	}
	labels[LabelReleased] = "true"
	labels[tenancy.LabelTeamUID] = teamUID
	out := corev1ac.Namespace(ns.Name).WithLabels(labels)
	if len(owned.Annotations) > 0 {
		out.WithAnnotations(owned.Annotations)
	}
	return out, nil
}

// isProtected reports whether a namespace name is one selfserve never manages.
func (r *Reconciler) isProtected(name string) bool {
	return r.protected().Has(name)
}

// protected is the operator's namespace and the configured names, besides default and kube-*.
func (r *Reconciler) protected() tenancy.Protected {
	var p tenancy.Protected
	if r.Options.OperatorNamespace != "" {
		p = append(p, r.Options.OperatorNamespace)
	}
	return append(p, r.Options.ProtectedNamespaces...)
}
