package tenancy

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheFirst reads from the operator's cache, and from the apiserver what the cache does not
// have (it holds only managed namespaces, and an object created a moment ago may not be there
// yet). Lists come from the cache.
type CacheFirst struct {
	Cache, API client.Reader
}

// Get reads the object from the cache, else from the apiserver.
func (r CacheFirst) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := r.Cache.Get(ctx, key, obj, opts...)
	if apierrors.IsNotFound(err) {
		return r.API.Get(ctx, key, obj, opts...)
	}
	return err
}

// List lists from the cache.
func (r CacheFirst) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.Cache.List(ctx, list, opts...)
}
