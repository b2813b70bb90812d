package controlplane

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selfserve-dev/selfserve/internal/operator"
)

// PodCreator returns a client of a developer who may create pods in namespace and nothing else,
// for admission tests without kube-controller-manager: it makes the namespace's default
// ServiceAccount (the controller manager's job) and a Role and RoleBinding named after the user.
// The user is no cluster admin, so the admission policies apply to it.
func (cp *ControlPlane) PodCreator(ctx context.Context, namespace, user string, groups ...string) (client.Client, error) {
	admin, err := cp.Client()
	if err != nil {
		return nil, err
	}
	name := "pods-" + fmt.Sprintf("%x", []byte(user))[:16]
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "default"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}}},
	} {
		if err := admin.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	cfg, err := cp.UserConfig(user, groups...)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: operator.Scheme()})
}
