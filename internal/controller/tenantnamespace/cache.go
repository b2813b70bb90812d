package tenantnamespace

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"unique"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/applyconfigurations"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// A tenant's namespaced children (RoleBindings, ResourceQuota, LimitRange, NetworkPolicy) are
// the bulk of what the operator caches: four objects per tenant, each with its spec and managed
// fields. The controller reads from them only their metadata (owner, labels, deletion), the
// ResourceQuota's usage, and whether they still hold what the operator applied. So the cache
// keeps them as digests: DigestChild, the cache's transform for those kinds, replaces the spec
// and the managed fields with the digest of what the operator's field manager applied, and
// drift is found by comparing that digest with the digest of what the operator would apply.
// At 10,000 tenants this is the difference between about 175 and 130 MiB of heap
// (docs/development.md).

// digestLabel carries the digest on the cached copy of a child, and only there. It goes into
// the labels the object already has (a map of its own would cost about 300 bytes a child); the
// transform overwrites it on every object served by kube-apiserver (which always has managed
// fields), so a label of that name planted on the object never survives.
const digestLabel = "selfserve.internal/applied-digest"

// DigestChild is the cache transform of the tenant's namespaced children: it keeps the
// metadata the controller reads (name, namespace, UID, labels, owner references, deletion) and
// the ResourceQuota's status, and replaces the rest (spec, managed fields, annotations) with
// the digest of what the operator's field manager applied. Other objects pass unchanged.
func DigestChild(in any) (any, error) {
	obj, ok := in.(client.Object)
	if !ok || !digested(obj) {
		return in, nil // another kind, or a tombstone of a deleted object
	}
	if _, done := transformed(obj); done {
		// Informers may pass the same object through the transform twice, and a digest
		// computed from the digested copy (no managed fields) would read as drift.
		return obj, nil
	}
	digest, _ := appliedDigest(obj) // applied kinds: no error
	obj.SetManagedFields(nil)
	obj.SetAnnotations(nil)
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[digestLabel] = strconv.FormatUint(digest, 16)
	obj.SetLabels(labels)
	switch o := obj.(type) {
	case *rbacv1.RoleBinding:
		o.RoleRef, o.Subjects = rbacv1.RoleRef{}, nil
	case *corev1.ResourceQuota:
		o.Spec = corev1.ResourceQuotaSpec{}
	case *corev1.LimitRange:
		o.Spec = corev1.LimitRangeSpec{}
	case *networkingv1.NetworkPolicy:
		o.Spec = networkingv1.NetworkPolicySpec{}
	}
	return obj, nil
}

// cachedDigest is the digest of what the operator applied to a child read from the cache: the
// one the transform left, or, from a reader without the transform (a table test's fake
// client), the one computed from the object.
func cachedDigest(obj client.Object) uint64 {
	if d, ok := transformed(obj); ok {
		v, _ := strconv.ParseUint(d, 16, 64)
		return v
	}
	d, _ := appliedDigest(obj)
	return d
}

// transformed returns the digest DigestChild left on a child, and whether it is such a cached
// copy: kube-apiserver never serves a child without managed fields, the transform removes them.
func transformed(obj client.Object) (digest string, ok bool) {
	digest, ok = obj.GetLabels()[digestLabel]
	return digest, ok && digested(obj) && obj.GetManagedFields() == nil
}

// digested reports whether the cache holds objects of this kind as digests.
func digested(obj client.Object) bool {
	switch obj.(type) {
	case *rbacv1.RoleBinding, *corev1.ResourceQuota, *corev1.LimitRange, *networkingv1.NetworkPolicy:
		return true
	}
	return false
}

// appliedDigest is the digest of what the operator's field manager applied to a child, read
// from its managed fields; an error for a kind the operator does not apply. Managed fields the
// operator cannot read back give 0, which no desired state has: the object is applied again.
func appliedDigest(obj client.Object) (uint64, error) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return digestApplied(o, &corev1ac.NamespaceApplyConfiguration{}), nil
	case *rbacv1.RoleBinding:
		return digestApplied(o, &rbacv1ac.RoleBindingApplyConfiguration{}), nil
	case *corev1.ResourceQuota:
		return digestApplied(o, &corev1ac.ResourceQuotaApplyConfiguration{}), nil
	case *corev1.LimitRange:
		return digestApplied(o, &corev1ac.LimitRangeApplyConfiguration{}), nil
	case *networkingv1.NetworkPolicy:
		return digestApplied(o, &networkingv1ac.NetworkPolicyApplyConfiguration{}), nil
	}
	return 0, fmt.Errorf("selfserve applies no %T", obj)
}

// childTypes converts the kinds the operator applies to typed values, with the schemas
// client-go's Extract functions use.
var childTypes = applyconfigurations.NewTypeConverter(clientgoscheme.Scheme)

// digestApplied fills ac with what the operator's field manager applied to obj and returns its
// digest (0 when it cannot be read back). ac ends up as client-go's ExtractXxx(obj, FieldOwner)
// returns it: the fields managedfields.ExtractInto finds, with the object's name, namespace,
// kind and apiVersion. But what is converted to a typed value is a shallow copy of obj without
// its managed fields, which the field manager never applies: converting them was a good part of
// the cost, paid at every watch event of a child (the cache transform).
// TestAppliedDigestIsClientGosExtract holds the two equal.
func digestApplied[T any, PT interface {
	*T
	client.Object
}](obj PT, ac any) uint64 {
	gvks, _, err := clientgoscheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return 0
	}
	gvk := gvks[0]
	c := *obj
	trimmed := PT(&c)
	trimmed.SetManagedFields(nil)
	trimmed.GetObjectKind().SetGroupVersionKind(gvk)
	typed, err := childTypes.ObjectToTyped(trimmed)
	if err != nil {
		return 0
	}
	m := map[string]any{}
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != FieldOwner || mf.Operation != metav1.ManagedFieldsOperationApply || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(mf.FieldsV1.GetRawReader()); err != nil {
			return 0
		}
		var ok bool
		if m, ok = typed.ExtractItems(set.Leaves()).AsValue().Unstructured().(map[string]any); !ok {
			return 0
		}
		break
	}
	metadata, _ := m["metadata"].(map[string]any)
	if metadata == nil {
		metadata = map[string]any{}
	}
	metadata["name"] = obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		metadata["namespace"] = ns
	}
	m["metadata"], m["kind"], m["apiVersion"] = metadata, gvk.Kind, gvk.GroupVersion().String()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, ac); err != nil {
		return 0
	}
	d, _ := digestOf(ac) // 0 when it cannot be marshalled
	return d
}

// digestOf hashes an apply configuration's JSON: what the operator wants of an object and what
// its field manager owns of it have equal digests exactly when they have equal JSON.
func digestOf(applyConfiguration any) (uint64, error) {
	data, err := json.Marshal(applyConfiguration)
	if err != nil {
		return 0, err
	}
	h := fnv.New64a()
	_, _ = h.Write(data)
	return h.Sum64() | 1, nil // never 0
}

// CompactTenant is the cache transform of TenantNamespaces: their managed fields are dropped
// (never read here), and the strings every tenant repeats (its conditions' types, statuses and
// reasons, its team and class) are shared instead of decoded once per tenant, and the
// conditions take only the room they need.
func CompactTenant(in any) (any, error) {
	t, ok := in.(*platformv1alpha1.TenantNamespace)
	if !ok {
		return in, nil
	}
	t.ManagedFields = nil
	// Decoding grows the slice by doubling: ten conditions sit in room for sixteen.
	t.Status.Conditions = slices.Clone(t.Status.Conditions)
	for i := range t.Status.Conditions {
		c := &t.Status.Conditions[i]
		c.Type, c.Reason = intern(c.Type), intern(c.Reason)
		c.Status = metav1.ConditionStatus(intern(string(c.Status)))
	}
	t.Spec.Team, t.Status.Class = intern(t.Spec.Team), intern(t.Status.Class)
	return t, nil
}

// intern returns the one shared copy of s.
func intern(s string) string { return unique.Make(s).Value() }
