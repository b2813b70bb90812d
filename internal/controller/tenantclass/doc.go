// Package tenantclass reports on TenantClasses: how many tenants use each class, how many of
// them hold more than a tightened class allows, and whether the class is in effect (Ready) or
// competes with another class for being the default (Stalled).
package tenantclass
