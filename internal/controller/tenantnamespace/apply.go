package tenantnamespace

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// FieldOwner is the server-side apply field manager of everything the operator writes.
const FieldOwner = "selfserve"

// applyChild server-side applies one of the tenant's objects unless the cached object already
// holds exactly what the operator's field manager would apply (their digests are equal): an
// unchanged child costs no request. Fields someone else changed are no longer ours in
// managedFields, so drift shows up as a difference and the apply (with force) takes them back.
//
// It also tells drift from change: an object that had to be applied although the operator
// wanted exactly the same of it last time was edited or deleted by someone else, which is
// counted and reported; one whose desired state changed (the tenant's spec, its class) was not.
// kind and name identify the object within the tenant.
func applyChild[AC runtime.ApplyConfiguration](ctx context.Context, r *Reconciler, s *scope, kind, name string,
	current client.Object, exists bool, desired AC) (applied bool, err error) {
	// Hashed before the apply, which fills desired with the object the apiserver returns.
	want, hashErr := digestOf(desired)
	key := kind + " " + name
	inPlace := exists && hashErr == nil && cachedDigest(current) == want
	if !inPlace && hashErr == nil && r.lastDesired.same(s.tenant, key, want) {
		// It looks like drift, but the cache may only lag behind the operator's own last write
		// (a child created a moment ago, or changed by the reconcile before): ask the apiserver
		// before calling it a repair.
		if exists, err = r.readLive(ctx, s, kind, name, current); err != nil {
			return false, err
		}
		live, _ := appliedDigest(current)
		inPlace = exists && live == want
	}
	if !inPlace {
		if err := r.Client.Apply(ctx, desired, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return true, err
		}
	}
	if hashErr != nil {
		return !inPlace, nil // without a digest, drift cannot be told apart; the object is in place all the same
	}
	s.markInPlace(key)
	if unchanged := r.lastDesired.remember(s.tenant, key, want); unchanged && !inPlace {
		r.noteDrift(s, kind, name)
	}
	return !inPlace, nil
}

// readLive reads one of the tenant's objects from the apiserver rather than the cache.
func (r *Reconciler) readLive(ctx context.Context, s *scope, kind, name string, obj client.Object) (exists bool, err error) {
	key := client.ObjectKey{Namespace: s.tenant.Name, Name: name}
	if kind == "Namespace" {
		key.Namespace = ""
	}
	err = r.APIReader.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s %s: %w", kind, name, err)
	}
	return true, nil
}

// lastDesired remembers, per tenant, a hash of what the operator last wanted of each of its
// objects. It lives in memory: after a restart the first repair of an object is not reported
// as drift, a price worth not writing bookkeeping into the tenant's status.
type lastDesired struct {
	mu       sync.Mutex
	byTenant map[string]tenantDesired
}

type tenantDesired struct {
	uid     types.UID
	objects map[string]uint64
}

// remember records the hash for the tenant's object and reports whether it equals the one
// recorded before for the same tenant (a tenant re-created under the same name starts afresh).
func (m *lastDesired) remember(t *platformv1alpha1.TenantNamespace, key string, hash uint64) (unchanged bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byTenant == nil {
		m.byTenant = map[string]tenantDesired{}
	}
	td, ok := m.byTenant[t.Name]
	if !ok || td.uid != t.UID {
		td = tenantDesired{uid: t.UID, objects: map[string]uint64{}}
		m.byTenant[t.Name] = td
	}
	unchanged = td.has(key, hash)
	td.objects[key] = hash
	return unchanged
}

// same reports whether the hash equals the one last recorded for the tenant's object.
func (m *lastDesired) same(t *platformv1alpha1.TenantNamespace, key string, hash uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	td, ok := m.byTenant[t.Name]
	return ok && td.uid == t.UID && td.has(key, hash)
}

// has reports whether the object's recorded hash is hash.
func (td tenantDesired) has(key string, hash uint64) bool {
	prev, seen := td.objects[key]
	return seen && prev == hash
}

// retain forgets the tenant's objects other than keys: those the spec no longer asks for, so
// that one asked for again later is not taken for a repair.
func (m *lastDesired) retain(t *platformv1alpha1.TenantNamespace, keys map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if td, ok := m.byTenant[t.Name]; ok && td.uid == t.UID {
		for key := range td.objects {
			if !keys[key] {
				delete(td.objects, key)
			}
		}
	}
}

// forget drops what was remembered of a tenant that is gone.
func (m *lastDesired) forget(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byTenant, name)
}

// ownerReference makes the tenant the controller of a child inside its namespace, so that the
// child's changes and deletion are watched and the garbage collector removes it with the
// tenant. The Namespace itself never gets one: the garbage collector would delete it, and its
// data, with the owner (after a forced finalizer removal or a CRD reinstall, as Capsule #1181 did).
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
