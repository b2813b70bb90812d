// Package tenantnamespace reconciles TenantNamespaces: it provisions the namespace and its
// RoleBindings, ResourceQuota, LimitRange and NetworkPolicy within the guard rails of the
// tenant's TenantClass, keeps them in place, and releases or deletes the namespace when the
// tenant goes.
package tenantnamespace
