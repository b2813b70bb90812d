package tenantnamespace

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// ReasonDeleting is NamespaceReady's reason while a Delete tenant's namespace goes.
const ReasonDeleting = "DeletingNamespace"

// ReasonReleased is the reason of the event on a released namespace. It is on the namespace,
// which outlives the tenant (and has no conditions of selfserve's), so that `kubectl describe
// namespace` tells what happened.
const ReasonReleased = "NamespaceReleased"

// reconcileDelete handles a deleted TenantNamespace that holds the finalizer: one with
// deletionPolicy Delete, whose namespace is deleted (the finalizer goes once it is gone), or one
// that is Retain now but got the finalizer earlier, whose namespace is released as
// releaseOrphan does. A Delete tenant deleted because its CRD is being deleted is released too.
// Only a namespace that carries this tenant's label is ever touched.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	t := s.tenant
	r.pressure.Delete(t.UID)
	if !controllerutil.ContainsFinalizer(t, Finalizer) {
		return ctrl.Result{}, nil
	}
	var ns corev1.Namespace
	err := r.Client.Get(ctx, client.ObjectKey{Name: t.Name}, &ns)
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	ours := err == nil && ns.Labels[platformv1alpha1.LabelTenant] == t.Name

	deleteNamespace := ours && t.Spec.DeletionPolicy == platformv1alpha1.DeletionPolicyDelete
	if deleteNamespace && ns.DeletionTimestamp.IsZero() {
		// Deleting the TenantNamespace CRD deletes every tenant with it; nobody asked for their
		// namespaces to go, so they are released as with Retain.
		going, err := r.tenantKindGoing(ctx)
		if err != nil {
			return ctrl.Result{}, err
		}
		deleteNamespace = !going
	}
	if deleteNamespace {
		if ns.DeletionTimestamp.IsZero() {
			if err := r.Client.Delete(ctx, &ns); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("deleting namespace %s: %w", ns.Name, err)
			}
			// Not in the namespace too (eventf): it is being deleted and takes no new Events.
			r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, ReasonDeleting, "Delete", "Deleting namespace %s (deletionPolicy Delete)", ns.Name)
		}
		s.setCondition(platformv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, ReasonDeleting,
			fmt.Sprintf("namespace %s is being deleted", ns.Name))
		// The namespace watch also brings the tenant back once the namespace is gone.
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}

	if ours {
		if err := r.release(ctx, &ns); err != nil {
			return ctrl.Result{}, err
		}
	}

	patch := client.MergeFrom(t.DeepCopy())
	controllerutil.RemoveFinalizer(t, Finalizer)
	if err := r.Client.Patch(ctx, t, patch); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}

// tenantCRD is the name of the TenantNamespace CustomResourceDefinition.
const tenantCRD = "tenantnamespaces.platform.selfserve.dev"

// tenantKindGoing reports whether the TenantNamespace CRD is being deleted (or is gone). An
// error is returned as is: when in doubt, nothing is deleted.
func (r *Reconciler) tenantKindGoing(ctx context.Context) (bool, error) {
	var crd metav1.PartialObjectMetadata
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: tenantCRD}, &crd)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading CustomResourceDefinition %s: %w", tenantCRD, err)
	}
	return !crd.DeletionTimestamp.IsZero(), nil
}

// releaseOrphan releases the namespace of a TenantNamespace that no longer exists (deleted
// with Retain, which holds no finalizer): when the namespace is still labelled as that
// tenant's and is not being deleted, the operator's children go and the namespace is marked
// released, everything else in it kept. The garbage collector removes the children too (they
// are owned by the tenant); removing them here does not wait for it.
func (r *Reconciler) releaseOrphan(ctx context.Context, name string) error {
	var ns corev1.Namespace
	// The cache holds managed namespaces only; a released one is not there.
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		return client.IgnoreNotFound(err)
	}
	if ns.Labels[platformv1alpha1.LabelTenant] != name || !ns.DeletionTimestamp.IsZero() {
		return nil
	}
	return r.release(ctx, &ns)
}

// Names of what a released namespace keeps in place of the tenant's children.
const (
	ReleasedQuotaName  = "selfserve-released"
	ReleasedPolicyName = "selfserve-released"
)

// release removes the operator's children from a namespace and puts in their place what keeps a
// released namespace inside the guard rails: a ResourceQuota that admits no new pod, volume
// claim or exposed Service (what runs keeps running; the data stays), and a NetworkPolicy that
// admits ingress only from the namespace itself. RoleBindings its admins made stay, but with
// nothing to run; the namespace keeps its place in the team's budget (tenancy.AddReleased).
// It marks the namespace released, with the UID of its Team so that only that very Team (not
// one re-created under its name) may take it back, and says so in an event on the namespace.
func (r *Reconciler) release(ctx context.Context, ns *corev1.Namespace) error {
	opts := []client.DeleteAllOfOption{client.InNamespace(ns.Name), client.MatchingLabels{
		platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue,
		platformv1alpha1.LabelTenant:    ns.Labels[platformv1alpha1.LabelTenant],
	}}
	for _, kind := range []client.Object{&rbacv1.RoleBinding{}, &corev1.ResourceQuota{}, &corev1.LimitRange{}, &networkingv1.NetworkPolicy{}} {
		if err := r.Client.DeleteAllOf(ctx, kind, opts...); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing %T from the released namespace: %w", kind, err)
		}
	}
	if err := r.fence(ctx, ns); err != nil {
		return err
	}
	r.namespaceEventf(ns, "Released namespace %s: its TenantNamespace %s was deleted with deletionPolicy Retain; its contents are kept, nothing new may run until team %s takes it back",
		ns.Name, ns.Labels[platformv1alpha1.LabelTenant], ns.Labels[platformv1alpha1.LabelTeam])
	return nil
}

// fence puts the released namespace's fence in place (releasedChildren) and marks it released
// with the UID of its Team.
func (r *Reconciler) fence(ctx context.Context, ns *corev1.Namespace) error {
	for _, keep := range releasedChildren(ns.Name) {
		if err := r.Client.Apply(ctx, keep, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("fencing the released namespace %s: %w", ns.Name, err)
		}
	}
	teamUID, err := r.teamUID(ctx, ns.Labels[platformv1alpha1.LabelTeam])
	if err != nil {
		return err
	}
	released, err := releasedNamespace(ns, teamUID)
	if err != nil {
		return fmt.Errorf("reading what the operator applied to namespace %s: %w", ns.Name, err)
	}
	if err := r.Client.Apply(ctx, released, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("marking namespace %s released: %w", ns.Name, err)
	}
	return nil
}

// FenceEarlierReleases fences the namespaces released by a version that did not fence them
// (released, but no Team UID recorded): each gets the fence a release puts in place now and the
// UID of the Team of its name (tenancy.NoTeam when there is none), so that it admits nothing
// new and only that Team may take it back. It runs once each time the operator becomes the
// leader, and retries every 30 s until it has fenced them all or the operator stops; normally
// it is one list of namespaces and no write.
func (r *Reconciler) FenceEarlierReleases(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("released-namespaces")
	for {
		n, err := r.fenceEarlierReleases(ctx)
		if err == nil {
			if n > 0 {
				log.Info("fenced namespaces released before releases were fenced", "namespaces", n)
			}
			return nil
		}
		log.Error(err, "fencing namespaces released by an earlier version; retrying in 30 s")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(30 * time.Second):
		}
	}
}

func (r *Reconciler) fenceEarlierReleases(ctx context.Context) (int, error) {
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	// The cache holds managed namespaces only; released ones are not there.
	if err := r.APIReader.List(ctx, &list, client.MatchingLabels{LabelReleased: "true"}); err != nil {
		return 0, fmt.Errorf("listing released namespaces: %w", err)
	}
	fenced := 0
	for _, item := range list.Items {
		if _, recorded := item.Labels[tenancy.LabelTeamUID]; recorded || !item.DeletionTimestamp.IsZero() {
			continue
		}
		var ns corev1.Namespace
		if err := r.APIReader.Get(ctx, client.ObjectKey{Name: item.Name}, &ns); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fenced, fmt.Errorf("reading namespace %s: %w", item.Name, err)
		}
		if err := r.fence(ctx, &ns); err != nil {
			return fenced, err
		}
		r.namespaceEventf(&ns, "Fenced namespace %s, released by an earlier version of selfserve: its contents are kept, nothing new may run until team %s takes it back", ns.Name, ns.Labels[platformv1alpha1.LabelTeam])
		fenced++
	}
	return fenced, nil
}

// teamUID is the UID of the Team of that name, or tenancy.NoTeam when there is none: a
// namespace released without a Team can be taken back only once an admin relabels it.
func (r *Reconciler) teamUID(ctx context.Context, name string) (string, error) {
	var team platformv1alpha1.Team
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, &team)
	if apierrors.IsNotFound(err) || name == "" {
		return tenancy.NoTeam, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading Team %s: %w", name, err)
	}
	return string(team.UID), nil
}

// releasedChildren fence a released namespace (see release). They carry the released mark
// instead of a tenant, and no owner: they outlive the tenant, and the managed-children guard
// keeps its admins from changing them.
func releasedChildren(ns string) []runtime.ApplyConfiguration {
	labels := map[string]string{platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue, LabelReleased: "true"}
	zero := resource.MustParse("0")
	quota := corev1ac.ResourceQuota(ReleasedQuotaName, ns).WithLabels(labels).
		WithSpec(corev1ac.ResourceQuotaSpec().WithHard(corev1.ResourceList{
			corev1.ResourcePods: zero, corev1.ResourcePersistentVolumeClaims: zero, corev1.ResourceRequestsStorage: zero,
			corev1.ResourceServicesLoadBalancers: zero, corev1.ResourceServicesNodePorts: zero,
		}))
	policy := networkingv1ac.NetworkPolicy(ReleasedPolicyName, ns).WithLabels(labels).
		WithSpec(networkingv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector()).
			WithPolicyTypes(networkingv1.PolicyTypeIngress).
			WithIngress(networkingv1ac.NetworkPolicyIngressRule().WithFrom(networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector()))))
	return []runtime.ApplyConfiguration{quota, policy}
}

// unfence removes what fenced a released namespace, once a tenant has taken it back.
func (r *Reconciler) unfence(ctx context.Context, ns string) error {
	opts := []client.DeleteAllOfOption{client.InNamespace(ns), client.MatchingLabels{
		platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue, LabelReleased: "true",
	}}
	for _, kind := range []client.Object{&corev1.ResourceQuota{}, &networkingv1.NetworkPolicy{}} {
		if err := r.Client.DeleteAllOf(ctx, kind, opts...); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing the fence of the released namespace %s: %w", ns, err)
		}
	}
	return nil
}
