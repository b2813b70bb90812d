// Package webhook holds selfserve's admission webhooks: the rules that need the requester or
// other objects (who may act for a tenant's team, class caps and team budgets, one default
// TenantClass, one policy per GKE cluster, managed children, approvals), the checks a schema
// cannot state (what the apiserver, GKE or Datadog would refuse later), and the pod DNS mutation.
// Everything a schema can state is in the CRDs.
package webhook
