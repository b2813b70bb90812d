package webhook

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// +kubebuilder:rbac:groups="",resources=resourcequotas;limitranges,verbs=create

// DryRunNamespace is where the ResourceQuota and LimitRange a spec would give are created with
// a server-side dry run: default exists in every cluster, and nothing is stored.
const DryRunNamespace = "default"

// dryRun asks the apiserver whether the ResourceQuota and LimitRange built from a spec are
// valid: the apiserver's own validation (resource names, quantities, integer counts, LimitRange
// consistency) decides, exactly as it will when the operator applies them, without copying its
// rules. Its refusals are reported at the fields of the spec they come from.
type dryRun struct {
	client client.Client
}

// quota checks hard limits as a ResourceQuota's; refusals are reported under path.
func (d dryRun) quota(ctx context.Context, hard corev1.ResourceList, path *field.Path) (field.ErrorList, error) {
	if len(hard) == 0 {
		return nil, nil
	}
	rq := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "selfserve-dry-run-", Namespace: DryRunNamespace},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}
	return refusals(d.client.Create(ctx, rq, client.DryRunAll), map[string]*field.Path{"spec.hard": path})
}

// limits checks container limits as a LimitRange's; refusals are reported under path.
func (d dryRun) limits(ctx context.Context, l *platformv1alpha1.ContainerLimits, path *field.Path) (field.ErrorList, error) {
	if l == nil || len(l.Default)+len(l.DefaultRequest)+len(l.Max)+len(l.Min) == 0 {
		return nil, nil
	}
	lr := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "selfserve-dry-run-", Namespace: DryRunNamespace},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Default: l.Default, DefaultRequest: l.DefaultRequest, Max: l.Max, Min: l.Min,
		}}},
	}
	return refusals(d.client.Create(ctx, lr, client.DryRunAll), map[string]*field.Path{
		"spec.limits[0].default":        path.Child("default"),
		"spec.limits[0].defaultRequest": path.Child("defaultRequest"),
		"spec.limits[0].max":            path.Child("max"),
		"spec.limits[0].min":            path.Child("min"),
	})
}

// causeValue splits the apiserver's `Invalid value: "x": why` into the value and the reason.
var causeValue = regexp.MustCompile(`^Invalid value: "((?:[^"\\]|\\.)*)": (.*)$`)

// refusals turns a dry run's Invalid answer into field errors at the spec's paths, one per
// field (the apiserver may give two reasons for one key). An answer that is not a refusal of
// the object (the apiserver unreachable, forbidden) is returned as an error: admission fails
// closed rather than admit what it could not check.
func refusals(err error, paths map[string]*field.Path) (field.ErrorList, error) {
	if err == nil {
		return nil, nil
	}
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return nil, fmt.Errorf("asking the apiserver to validate: %w", err)
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for _, c := range status.Status().Details.Causes {
		path := mapPath(c.Field, paths)
		if path == nil || seen[path.String()] {
			continue
		}
		seen[path.String()] = true
		if m := causeValue.FindStringSubmatch(c.Message); m != nil {
			errs = append(errs, field.Invalid(path, m[1], m[2]+" (the apiserver's rule)"))
		} else {
			errs = append(errs, tenancy.InvalidWithoutValue(path, c.Message))
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("the apiserver refused an object built from the spec: %w", err)
	}
	return errs, nil
}

// mapPath maps a child's field (spec.hard[pods]) to the spec's (spec.quota.hard[pods]).
func mapPath(f string, paths map[string]*field.Path) *field.Path {
	for prefix, to := range paths {
		rest, ok := strings.CutPrefix(f, prefix)
		if !ok || !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") {
			continue
		}
		return to.Key(rest[1 : len(rest)-1])
	}
	return nil
}
