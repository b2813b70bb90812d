package tenancy

import (
	"slices"

	authnv1 "k8s.io/api/authentication/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// serviceAccountPrefix starts the user name Kubernetes gives a service account.
const serviceAccountPrefix = "system:serviceaccount:"

// Matches reports whether the requester is one of the subjects: by user name, by one of its
// groups, or as the service account.
func Matches(subjects []platformv1alpha1.Subject, u authnv1.UserInfo) bool {
	for _, s := range subjects {
		switch s.Kind {
		case "User":
			if s.Name == u.Username {
				return true
			}
		case "Group":
			if slices.Contains(u.Groups, s.Name) {
				return true
			}
		case "ServiceAccount":
			if u.Username == serviceAccountPrefix+s.Namespace+":"+s.Name {
				return true
			}
		}
	}
	return false
}
