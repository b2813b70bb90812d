package tenantnamespace

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// readHolding reads what the tenant's namespace holds now (tenancy.ReadHolding) from the
// apiserver: the cache keeps the children as digests, without their specs.
func (r *Reconciler) readHolding(ctx context.Context, t *platformv1alpha1.TenantNamespace) (tenancy.Holding, error) {
	return tenancy.ReadHolding(ctx, r.APIReader, t)
}

// readQuota reads the hard limits of the tenant's own ResourceQuota from the apiserver; nil
// when it has none.
func (r *Reconciler) readQuota(ctx context.Context, t *platformv1alpha1.TenantNamespace) (corev1.ResourceList, error) {
	var rq corev1.ResourceQuota
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: t.Name, Name: QuotaName}, &rq)
	if client.IgnoreNotFound(err) != nil {
		return nil, err
	}
	if err != nil || !tenancy.OwnedBy(&rq, t) {
		return nil, nil
	}
	return rq.Spec.Hard, nil
}
