package testutil

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// Team is a Team whose member is the group "team-<name>", allowed the given classes.
func Team(name string, classes ...string) *platformv1alpha1.Team {
	return &platformv1alpha1.Team{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: platformv1alpha1.TeamSpec{
			Members: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-" + name}},
			Classes: classes,
		},
	}
}

// CreateTeams creates a Team (see Team) for each name, allowed the given classes; a Team that
// exists already is left as it is.
func CreateTeams(ctx context.Context, c client.Client, names []string, classes ...string) error {
	for _, name := range names {
		if err := c.Create(ctx, Team(name, classes...)); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}
