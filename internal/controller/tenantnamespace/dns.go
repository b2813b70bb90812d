package tenantnamespace

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/nodelocaldns"
)

// Reasons of the DNSReady condition.
const (
	ReasonInjecting            = "Injecting"
	ReasonNodeLocalDNSMissing  = "NodeLocalDNSMissing"
	ReasonNodeLocalDNSNotReady = "NodeLocalDNSNotReady"
)

// reconcileDNS decides whether new pods of the tenant are pointed at the node-local DNS cache:
// only when the tenant (or its class) enables it and the node-local-dns DaemonSet exists with
// ready pods, because a pod must never be sent to a cache that is not there. The decision
// becomes the namespace's injection label, applied with the namespace. It sets DNSReady.
func (r *Reconciler) reconcileDNS(ctx context.Context, s *scope) error {
	cfg := nodelocaldns.Effective(s.tenant, s.class)
	if !nodelocaldns.Enabled(cfg) {
		s.setCondition(platformv1alpha1.ConditionDNSReady, metav1.ConditionTrue, ReasonNotRequested,
			"NodeLocal DNSCache is not enabled; pods use the cluster DNS")
		return nil
	}
	dns := r.Options.DNS
	var list appsv1.DaemonSetList
	if err := r.Client.List(ctx, &list, client.InNamespace(dns.DaemonSetNamespace), client.MatchingLabelsSelector{Selector: dns.DaemonSetSelector}); err != nil {
		return fmt.Errorf("listing node-local-dns DaemonSets: %w", err)
	}
	if len(list.Items) == 0 {
		s.setCondition(platformv1alpha1.ConditionDNSReady, metav1.ConditionFalse, ReasonNodeLocalDNSMissing,
			fmt.Sprintf("no DaemonSet labelled %s in %s runs NodeLocal DNSCache; new pods keep the cluster DNS until it does", dns.DaemonSetSelector, dns.DaemonSetNamespace))
		return nil
	}
	// The message carries no pod counts: they move with every node added or removed, and each
	// move would cost every tenant a status write.
	if !cacheReady(list.Items) {
		s.setCondition(platformv1alpha1.ConditionDNSReady, metav1.ConditionFalse, ReasonNodeLocalDNSNotReady,
			fmt.Sprintf("DaemonSet %s/%s has no ready pods; new pods keep the cluster DNS until it has", dns.DaemonSetNamespace, list.Items[0].Name))
		return nil
	}
	injection, path := nodelocaldns.InjectionEnabled, "the pod DNS webhook"
	if r.Options.DNSByPolicy {
		// The policy reads the settings from the namespace: they need the cluster DNS address.
		ip, err := dns.ClusterDNSIP(ctx, r.Client)
		if err != nil {
			return fmt.Errorf("reading the cluster DNS Service: %w", err)
		}
		if ip == "" {
			s.setCondition(platformv1alpha1.ConditionDNSReady, metav1.ConditionFalse, ReasonNodeLocalDNSMissing,
				fmt.Sprintf("the cluster DNS Service %s has no address; new pods keep the cluster DNS until it has", dns.ClusterDNSService))
			return nil
		}
		s.dnsAnnotations = nodelocaldns.PolicyAnnotations(dns.PodDNSConfig(s.tenant.Name, ip, cfg))
		injection, path = nodelocaldns.InjectionPolicy, "the admission policy selfserve-tenant-dns"
	}
	s.dnsInjection = injection
	s.setCondition(platformv1alpha1.ConditionDNSReady, metav1.ConditionTrue, ReasonInjecting,
		fmt.Sprintf("new pods resolve through the node-local cache %s, with the cluster DNS as fallback (set by %s); running pods change when restarted", dns.NodeLocalIP, path))
	return nil
}

// cacheReady reports whether any node-local-dns pod is ready: what decides injection.
func cacheReady(daemonSets []appsv1.DaemonSet) bool {
	for _, ds := range daemonSets {
		if ds.Status.NumberReady > 0 {
			return true
		}
	}
	return false
}

// cacheReadinessChanged lets through only the DaemonSet updates that can change a tenant's
// DNS decision (ready pods or none), not every count that moves as nodes come and go.
var cacheReadinessChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, oldOK := e.ObjectOld.(*appsv1.DaemonSet)
	n, newOK := e.ObjectNew.(*appsv1.DaemonSet)
	return !oldOK || !newOK || (o.Status.NumberReady > 0) != (n.Status.NumberReady > 0)
}}
