// Package nodelocaldns holds what the tenant controller and the Pod webhook share about
// NodeLocal DNSCache: the operator's settings, the DNS configuration in effect for a tenant,
// and the resolver configuration injected into its pods. Everything here is pure.
package nodelocaldns
