// Package tenancy holds the tenancy rules, in one place for the admission webhook and the
// controller: which Team and TenantClass a TenantNamespace resolves to, who may act for a team,
// what a tenant gets once its class fills what it left out, what its class allows, what its
// team's budget allows, and which existing namespace it may take.
//
// The webhook gives early, precise answers from the manager's cache; the controller applies
// the same rules again before it provisions anything, so a rule holds when admission was
// raced, bypassed or down.
package tenancy
