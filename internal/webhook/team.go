package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// +kubebuilder:webhook:path=/validate-platform-selfserve-dev-v1alpha1-team,mutating=false,failurePolicy=fail,sideEffects=None,groups=platform.selfserve.dev,resources=teams,verbs=create;update,versions=v1alpha1,name=vteam.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5

// TeamValidator refuses members that could let one team act for another: the cluster's own
// identities (system: users and groups), ServiceAccounts of protected namespaces, and
// ServiceAccounts in a namespace that belongs to another team, whose owners could mint their
// tokens. The rules are tenancy's; membership is checked against them again at every request
// (tenancy.IsMember), so a Team admitted before them, or raced past this check, never counts.
type TeamValidator struct {
	// Reader reads tenants from the manager's cache, and namespaces from the apiserver when the
	// cache does not hold them (released ones).
	Reader client.Reader
	Access Access
}

var teamGK = platformv1alpha1.GroupVersion.WithKind("Team").GroupKind()

// SetupTeamWebhook registers the Team validating webhook.
func SetupTeamWebhook(mgr ctrl.Manager, access Access) error {
	return ctrl.NewWebhookManagedBy(mgr, &platformv1alpha1.Team{}).
		WithValidator(&TeamValidator{Reader: tenancy.CacheFirst{Cache: mgr.GetClient(), API: mgr.GetAPIReader()}, Access: access}).
		Complete()
}

// ValidateCreate checks the members of a new Team.
func (v *TeamValidator) ValidateCreate(ctx context.Context, team *platformv1alpha1.Team) (admission.Warnings, error) {
	if err := v.validateMembers(ctx, team); err != nil {
		return nil, err
	}
	return v.sharedHosts(ctx, team), nil
}

// ValidateUpdate checks the members when they change; a status or label change passes.
func (v *TeamValidator) ValidateUpdate(ctx context.Context, old, team *platformv1alpha1.Team) (admission.Warnings, error) {
	if !equality.Semantic.DeepEqual(old.Spec.Members, team.Spec.Members) {
		if err := v.validateMembers(ctx, team); err != nil {
			return nil, err
		}
	}
	if equality.Semantic.DeepEqual(old.Spec.Hosts, team.Spec.Hosts) {
		return nil, nil
	}
	return v.sharedHosts(ctx, team), nil
}

// sharedHosts warns about host patterns that overlap another Team's: allowed (two teams may
// share a domain on purpose), but then each host goes to whichever team serves it first.
func (v *TeamValidator) sharedHosts(ctx context.Context, team *platformv1alpha1.Team) admission.Warnings {
	if len(team.Spec.Hosts) == 0 {
		return nil
	}
	var teams platformv1alpha1.TeamList
	if err := v.Reader.List(ctx, &teams); err != nil {
		return admission.Warnings{"could not compare spec.hosts with the other Teams': " + err.Error()}
	}
	var warnings admission.Warnings
	for i, h := range team.Spec.Hosts {
		for _, other := range teams.Items {
			if other.Name == team.Name {
				continue
			}
			for _, oh := range other.Spec.Hosts {
				if tenancy.HostsOverlap(h, oh) {
					warnings = append(warnings, fmt.Sprintf("spec.hosts[%d]: %q overlaps %q of Team %s: each host in both goes to the team whose Ingress or route serves it first", i, h, oh, other.Name))
				}
			}
		}
	}
	return warnings
}

// ValidateDelete lets a Team go: its tenants wait (TeamNotFound) until it is back.
func (v *TeamValidator) ValidateDelete(context.Context, *platformv1alpha1.Team) (admission.Warnings, error) {
	return nil, nil
}

func (v *TeamValidator) validateMembers(ctx context.Context, team *platformv1alpha1.Team) error {
	errs := tenancy.CheckMembers(team, v.Access.protected())
	taken, err := tenancy.CheckMemberNamespaces(ctx, v.Reader, team)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if errs = append(errs, taken...); len(errs) > 0 {
		return apierrors.NewInvalid(teamGK, team.Name, errs)
	}
	return nil
}
