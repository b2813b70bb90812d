package tenancy

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// broadGroups and broadUsers are the identities that stand for everyone (or every workload):
// binding one hands the namespace to all of them.
var (
	broadGroups = []string{"system:authenticated", "system:unauthenticated", "system:serviceaccounts"}
	broadUsers  = []string{"system:anonymous"}
)

// broad returns the name of the broad identity a subject is, if it is one.
func broad(s platformv1alpha1.Subject) (string, bool) {
	switch {
	case s.Kind == "Group" && slices.Contains(broadGroups, s.Name):
		return s.Name, true
	case s.Kind == "User" && slices.Contains(broadUsers, s.Name):
		return s.Name, true
	}
	return "", false
}

// checkSubjects refuses owners and binding subjects that stand for everyone, unless the class
// allows them by name.
func checkSubjects(t *platformv1alpha1.TenantNamespace, c *platformv1alpha1.TenantClass) field.ErrorList {
	return eachSubject(t, func(s platformv1alpha1.Subject) string {
		if name, ok := broad(s); ok && !slices.Contains(c.Spec.AllowedBroadSubjects, name) {
			return fmt.Sprintf("%s %s stands for every user or workload of the cluster; class %s does not allow it (allowedBroadSubjects)", s.Kind, name, c.Name)
		}
		return ""
	})
}

// eachSubject refuses, at its field path, every owner and binding subject of the tenant for
// which why gives a reason.
func eachSubject(t *platformv1alpha1.TenantNamespace, why func(platformv1alpha1.Subject) string) field.ErrorList {
	var errs field.ErrorList
	check := func(path *field.Path, subjects []platformv1alpha1.Subject) {
		for i, s := range subjects {
			if reason := why(s); reason != "" {
				errs = append(errs, field.Forbidden(path.Index(i), reason))
			}
		}
	}
	spec := field.NewPath("spec")
	check(spec.Child("owners"), t.Spec.Owners)
	for i, b := range t.Spec.RoleBindings {
		check(spec.Child("roleBindings").Index(i).Child("subjects"), b.Subjects)
	}
	return errs
}
