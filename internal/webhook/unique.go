package webhook

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// unique is a validator that refuses an object when another object of its kind already holds
// the same key: one default TenantClass, one ClusterUpgradePolicy per GKE cluster. It reads the
// manager's cache, so two requests racing each other can both pass; the controllers cope.
type unique[T client.Object] struct {
	reader client.Reader
	gk     schema.GroupKind
	// list returns the objects of the kind.
	list func(context.Context, client.Reader) ([]T, error)
	// key is what must be unique; ok is false for objects that hold no key.
	key func(T) (k string, ok bool)
	// conflict explains the refusal, naming the other object.
	conflict func(obj, other T) *field.Error
}

// ValidateCreate refuses a key another object holds.
func (u *unique[T]) ValidateCreate(ctx context.Context, obj T) (admission.Warnings, error) {
	return nil, u.check(ctx, obj)
}

// ValidateUpdate refuses taking a key another object holds.
func (u *unique[T]) ValidateUpdate(ctx context.Context, _, obj T) (admission.Warnings, error) {
	return nil, u.check(ctx, obj)
}

// ValidateDelete allows every deletion.
func (u *unique[T]) ValidateDelete(context.Context, T) (admission.Warnings, error) {
	return nil, nil
}

func (u *unique[T]) check(ctx context.Context, obj T) error {
	k, ok := u.key(obj)
	if !ok {
		return nil
	}
	others, err := u.list(ctx, u.reader)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	for _, o := range others {
		if k2, has := u.key(o); has && k2 == k && o.GetName() != obj.GetName() {
			return apierrors.NewInvalid(u.gk, obj.GetName(), field.ErrorList{u.conflict(obj, o)})
		}
	}
	return nil
}
