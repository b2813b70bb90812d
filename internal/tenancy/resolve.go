package tenancy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

var (
	teamPath  = field.NewPath("spec", "team")
	classPath = field.NewPath("spec", "class")
)

// ResolveTeam reads the tenant's Team. A missing Team is a *Refusal (TeamNotFound).
func ResolveTeam(ctx context.Context, r client.Reader, t *platformv1alpha1.TenantNamespace) (*platformv1alpha1.Team, error) {
	var team platformv1alpha1.Team
	err := r.Get(ctx, client.ObjectKey{Name: t.Spec.Team}, &team)
	if apierrors.IsNotFound(err) {
		return nil, &Refusal{Reason: ReasonTeamNotFound, Field: teamPath,
			Message: fmt.Sprintf("Team %q does not exist; the SREs declare teams (kubectl get teams)", t.Spec.Team)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading Team %s: %w", t.Spec.Team, err)
	}
	return &team, nil
}

// ResolveClass finds the tenant's class: the one it names; for one that names none, the default
// class it was given when first resolved (status.class: moving the default later re-homes no
// tenant, as with a StorageClass), else the cluster's single default. A missing class, no
// default or two defaults are a *Refusal (ClassNotFound): guessing between two defaults would
// make the guard rails depend on list order.
func ResolveClass(ctx context.Context, r client.Reader, t *platformv1alpha1.TenantNamespace) (*platformv1alpha1.TenantClass, error) {
	if name := firstNonEmpty(t.Spec.Class, t.Status.Class); name != "" {
		var tc platformv1alpha1.TenantClass
		err := r.Get(ctx, client.ObjectKey{Name: name}, &tc)
		if apierrors.IsNotFound(err) {
			msg := fmt.Sprintf("TenantClass %q does not exist", name)
			if t.Spec.Class == "" {
				msg += " (the default class this tenant was given; name a class in spec.class to move it)"
			}
			return nil, &Refusal{Reason: ReasonClassNotFound, Field: classPath, Message: msg}
		}
		if err != nil {
			return nil, fmt.Errorf("reading TenantClass %s: %w", name, err)
		}
		return &tc, nil
	}
	var classes platformv1alpha1.TenantClassList
	if err := r.List(ctx, &classes); err != nil {
		return nil, fmt.Errorf("listing TenantClasses: %w", err)
	}
	var defaults []*platformv1alpha1.TenantClass
	for i := range classes.Items {
		if classes.Items[i].Spec.IsDefault {
			defaults = append(defaults, &classes.Items[i])
		}
	}
	switch len(defaults) {
	case 1:
		return defaults[0], nil
	case 0:
		return nil, &Refusal{Reason: ReasonClassNotFound, Field: classPath, Message: "spec.class is empty and no TenantClass is the default (spec.isDefault: true); name a class"}
	default:
		names := make([]string, len(defaults))
		for i, d := range defaults {
			names[i] = d.Name
		}
		slices.Sort(names)
		return nil, &Refusal{Reason: ReasonClassNotFound, Field: classPath,
			Message: fmt.Sprintf("spec.class is empty and %d TenantClasses claim to be the default (%s); name a class", len(defaults), strings.Join(names, ", "))}
	}
}

// ClassAllowed refuses a class the team may not use (ClassNotAllowed). The team's list is an
// allow-list: a class it does not name is refused, the default class included.
func ClassAllowed(team *platformv1alpha1.Team, class *platformv1alpha1.TenantClass) error {
	if slices.Contains(team.Spec.Classes, class.Name) {
		return nil
	}
	which := "class " + class.Name
	if class.Spec.IsDefault {
		which = "the default class " + class.Name
	}
	return &Refusal{Reason: ReasonClassNotAllowed, Field: classPath,
		Message: fmt.Sprintf("team %s may not use %s; its Team allows %v", team.Name, which, team.Spec.Classes)}
}

// Resolve resolves and checks the tenant's team and class together: the Team exists, the
// class exists and the team may use it.
func Resolve(ctx context.Context, r client.Reader, t *platformv1alpha1.TenantNamespace) (*platformv1alpha1.Team, *platformv1alpha1.TenantClass, error) {
	team, err := ResolveTeam(ctx, r, t)
	if err != nil {
		return nil, nil, err
	}
	if t.Spec.Class != "" && !slices.Contains(team.Spec.Classes, t.Spec.Class) {
		// Said before whether the class exists: a team learns nothing of classes it may not use.
		return nil, nil, ClassAllowed(team, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: t.Spec.Class}})
	}
	class, err := ResolveClass(ctx, r, t)
	if err != nil {
		return nil, nil, err
	}
	if err := ClassAllowed(team, class); err != nil {
		return nil, nil, err
	}
	return team, class, nil
}
