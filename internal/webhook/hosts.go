package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Host ownership needs what other namespaces hold, so it is the one workload guard rail left
// in a webhook. It is asked only about tenant namespaces, and only when a spec changes (a
// finalizer removed on a terminating object passes without it); it fails closed: while the
// operator is down, tenants cannot add hosts.
//
// +kubebuilder:webhook:path=/validate-tenant-hosts,mutating=false,failurePolicy=fail,sideEffects=None,groups=networking.k8s.io;gateway.networking.k8s.io,resources=ingresses;httproutes;grpcroutes;tlsroutes,verbs=create;update,versions=*,name=vtenanthosts.platform.selfserve.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"platform.selfserve.dev/team","operator":"Exists"}]},"matchConditions":[{"name":"spec-changed","expression":"request.operation == 'CREATE' || (!has(object.metadata.deletionTimestamp) && object.spec != oldObject.spec)"}]}`

// The index reads every namespace's Ingresses and routes.
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes;tlsroutes,verbs=get;list;watch

// HostGuardPath is where the host ownership webhook is served.
const HostGuardPath = "/validate-tenant-hosts"

// HostIndex is the cache index of Ingresses and routes by the hosts they claim
// (tenancy.ClaimKeys).
const HostIndex = "selfserve.hosts"

// GatewayGroup is the Gateway API's group.
const GatewayGroup = "gateway.networking.k8s.io"

// RouteKinds are the Gateway API routes whose hostnames the guard checks.
var RouteKinds = []string{"HTTPRoute", "GRPCRoute", "TLSRoute"}

// pendingFor is how long an admitted claim counts before the cache shows its object: two
// teams racing for one host are answered one after the other, and the second sees the first.
const pendingFor = 30 * time.Second

// HostClaimsLease is the Lease, in the operator's namespace, that holds the claims admitted in
// the last pendingFor, for every replica: each admission that adds hosts reads it, checks, and
// writes it back with its claim; a concurrent write fails on the resourceVersion and is
// checked again, so replicas answer one after the other as one would.
const HostClaimsLease = "selfserve-host-claims"

// annotationClaims on HostClaimsLease holds the recent claims (JSON).
const annotationClaims = "platform.selfserve.dev/host-claims"

// HostGuard admits an Ingress or route of a tenant namespace only if every host it adds is one
// of its Team's hosts (Team spec.hosts) and no object of another team (or of a namespace that
// is no tenant's) serves an overlapping host; objects being deleted serve nothing.
type HostGuard struct {
	// Reader reads TenantNamespaces, namespaces and Teams (cache first).
	Reader client.Reader
	// Claims lists the cached Ingresses and routes by HostIndex.
	Claims client.Reader
	// Records reads and writes HostClaimsLease, at the apiserver.
	Records client.Client
	// Namespace holds HostClaimsLease: the operator's.
	Namespace string
	// Routes are the route kinds the apiserver served when the operator started, with the
	// version cached; a route of another kind is refused, since its hosts cannot be checked.
	Routes []schema.GroupVersionKind

	// mu orders this replica's requests, so that they do not fail each other's Lease writes.
	mu sync.Mutex
}

// pendingClaim is a claim admitted but maybe not yet in the cache.
type pendingClaim struct {
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name,omitempty"`
	Team      string    `json:"team"`
	Hosts     []string  `json:"hosts"`
	Expires   time.Time `json:"expires"`
}

func (p pendingClaim) claim() claim {
	return claim{kind: p.Kind, namespace: p.Namespace, name: p.Name, team: p.Team}
}

// claim is an object that serves a host.
type claim struct {
	kind, namespace, name string
	team                  string
}

func (c claim) String() string {
	owner := "team " + c.team
	if c.team == "" {
		owner = "no tenant (a platform namespace)"
	}
	return fmt.Sprintf("%s %s/%s of %s", c.kind, c.namespace, c.name, owner)
}

// hostRef is one host an object names, with where; host "" is a rule or route without one.
type hostRef struct {
	path *field.Path
	host string
}

// Handle answers one admission request.
func (g *HostGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	kind := req.Kind.Kind
	if kind != "Ingress" && !slices.ContainsFunc(g.Routes, func(r schema.GroupVersionKind) bool { return r.Kind == kind }) {
		return admission.Denied(fmt.Sprintf("%s: the operator started before the apiserver served %s, so it cannot check its hosts; restart the operator", kind, kind))
	}
	var obj, old unstructured.Unstructured
	if err := obj.UnmarshalJSON(req.Object.Raw); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if len(req.OldObject.Raw) > 0 {
		if err := old.UnmarshalJSON(req.OldObject.Raw); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
	}
	added := addedHosts(kind, &obj, &old)
	if len(added) == 0 {
		return admission.Allowed("no new host")
	}
	team, err := tenancy.NamespaceTeam(ctx, g.Reader, req.Namespace)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	var owned platformv1alpha1.Team
	if err := g.Reader.Get(ctx, client.ObjectKey{Name: team}, &owned); err != nil {
		if apierrors.IsNotFound(err) {
			return admission.Denied(fmt.Sprintf("namespace %s belongs to Team %s, which does not exist: it may serve no host", req.Namespace, team))
		}
		return admission.Errored(http.StatusInternalServerError, err)
	}
	self := claim{kind: kind, namespace: req.Namespace, name: req.Name, team: team}
	if errs := ownership(&owned, kind, &obj, added); len(errs) > 0 {
		return refused(req, errs)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for attempt := 1; ; attempt++ {
		lease, pending, err := g.recent(ctx)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		var errs field.ErrorList
		for _, ref := range added {
			other, err := g.conflict(ctx, self, ref.host, pending)
			if err != nil {
				return admission.Errored(http.StatusInternalServerError, err)
			}
			if other != nil {
				errs = append(errs, field.Forbidden(ref.path, fmt.Sprintf("%q is already served by %s: a host stays with the first object that claims it", ref.host, other)))
			}
		}
		if len(errs) > 0 {
			return refused(req, errs)
		}
		if req.DryRun != nil && *req.DryRun {
			return admission.Allowed("")
		}
		err = g.record(ctx, lease, pending, self, added)
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 10 {
			continue // another replica recorded a claim meanwhile: check again
		}
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, fmt.Errorf("recording the claim in Lease %s/%s: %w", g.Namespace, HostClaimsLease, err))
		}
		return admission.Allowed("")
	}
}

// addedHosts returns the hosts obj names that old did not (all of them on a create).
func addedHosts(kind string, obj, old *unstructured.Unstructured) []hostRef {
	before := map[string]bool{}
	if old.Object != nil {
		for _, ref := range hostsOf(kind, old) {
			before[ref.host] = true
		}
	}
	var added []hostRef
	for _, ref := range hostsOf(kind, obj) {
		if !before[ref.host] {
			added = append(added, ref)
		}
	}
	return added
}

// hostsOf returns the hosts an Ingress (rules and TLS) or a route (hostnames) names; a rule or
// route without a host is "", an Ingress default backend "*".
func hostsOf(kind string, obj *unstructured.Unstructured) []hostRef {
	spec := field.NewPath("spec")
	var refs []hostRef
	if kind != "Ingress" {
		names, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "hostnames")
		if len(names) == 0 {
			return []hostRef{{path: spec.Child("hostnames")}}
		}
		for i, h := range names {
			refs = append(refs, hostRef{spec.Child("hostnames").Index(i), strings.ToLower(h)})
		}
		return refs
	}
	if _, ok, _ := unstructured.NestedMap(obj.Object, "spec", "defaultBackend"); ok {
		refs = append(refs, hostRef{spec.Child("defaultBackend"), "*"})
	}
	rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", "rules")
	for i, r := range rules {
		host, _, _ := unstructured.NestedString(asMap(r), "host")
		refs = append(refs, hostRef{spec.Child("rules").Index(i).Child("host"), strings.ToLower(host)})
	}
	tls, _, _ := unstructured.NestedSlice(obj.Object, "spec", "tls")
	for i, t := range tls {
		hosts, _, _ := unstructured.NestedStringSlice(asMap(t), "hosts")
		for j, h := range hosts {
			refs = append(refs, hostRef{spec.Child("tls").Index(i).Child("hosts").Index(j), strings.ToLower(h)})
		}
	}
	return refs
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// ownership refuses the added hosts that are not the team's, and every catch-all.
func ownership(team *platformv1alpha1.Team, kind string, obj *unstructured.Unstructured, added []hostRef) field.ErrorList {
	var errs field.ErrorList
	mine := "its hosts are " + strings.Join(team.Spec.Hosts, ", ")
	if len(team.Spec.Hosts) == 0 {
		mine = "it has none (Team spec.hosts is empty)"
	}
	for _, ref := range added {
		switch {
		case ref.host == "*":
			errs = append(errs, field.Forbidden(ref.path, "a default backend takes the requests of every host no rule names, other teams' included: name the hosts in spec.rules"))
		case ref.host == "":
			errs = append(errs, field.Forbidden(ref.path, fmt.Sprintf("without a host, the %s serves every host name, other teams' included: name one of Team %s's hosts (%s)", kind, team.Name, mine)))
		case !tenancy.HostOwned(team.Spec.Hosts, ref.host):
			errs = append(errs, field.Forbidden(ref.path, fmt.Sprintf("%q is not a host of Team %s: %s", ref.host, team.Name, mine)))
		}
	}
	return errs
}

// conflict returns an object of another team (or of no tenant) that serves a host overlapping
// host, or nil.
func (g *HostGuard) conflict(ctx context.Context, self claim, host string, pending []pendingClaim) (*claim, error) {
	for _, p := range pending {
		other := p.claim()
		if other.team == self.team || other.same(self) || !slices.ContainsFunc(p.Hosts, func(h string) bool { return tenancy.HostsOverlap(h, host) }) {
			continue
		}
		seen, err := g.cached(ctx, other)
		if err != nil {
			return nil, err
		}
		if !seen {
			return &other, nil
		}
	}
	for _, key := range tenancy.ConflictKeys(host) {
		claims, err := g.claims(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, c := range claims {
			if c.same(self) {
				continue
			}
			// A namespace that is gone is no tenant's: its objects count until they go too.
			team, err := tenancy.NamespaceTeam(ctx, g.Reader, c.namespace)
			if err != nil {
				return nil, err
			}
			if c.team = team; team != self.team {
				return &c, nil
			}
		}
	}
	return nil, nil
}

// cached reports whether the cache holds a claimed object: from then on the index, not the
// reservation, says what it serves (nothing, once it is being deleted).
func (g *HostGuard) cached(ctx context.Context, c claim) (bool, error) {
	if c.name == "" {
		return false, nil // generated name: the reservation runs out
	}
	var obj client.Object = &networkingv1.Ingress{}
	if c.kind != "Ingress" {
		i := slices.IndexFunc(g.Routes, func(r schema.GroupVersionKind) bool { return r.Kind == c.kind })
		route := &unstructured.Unstructured{}
		route.SetGroupVersionKind(g.Routes[i])
		obj = route
	}
	err := g.Claims.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: c.name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (c claim) same(o claim) bool {
	return c.kind == o.kind && c.namespace == o.namespace && c.name == o.name && c.name != ""
}

// claims lists the cached objects under one index key that are not being deleted.
func (g *HostGuard) claims(ctx context.Context, key string) ([]claim, error) {
	var out []claim
	keep := func(kind string, m metav1.Object) {
		if m.GetDeletionTimestamp() == nil {
			out = append(out, claim{kind: kind, namespace: m.GetNamespace(), name: m.GetName()})
		}
	}
	var ingresses networkingv1.IngressList
	if err := g.Claims.List(ctx, &ingresses, client.MatchingFields{HostIndex: key}); err != nil {
		return nil, err
	}
	for i := range ingresses.Items {
		keep("Ingress", &ingresses.Items[i])
	}
	for _, gvk := range g.Routes {
		var routes unstructured.UnstructuredList
		routes.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := g.Claims.List(ctx, &routes, client.MatchingFields{HostIndex: key}); err != nil {
			return nil, err
		}
		for i := range routes.Items {
			keep(gvk.Kind, &routes.Items[i])
		}
	}
	return out, nil
}

// recent returns HostClaimsLease as the apiserver has it (a new one if there is none) and the
// claims in it that have not expired.
func (g *HostGuard) recent(ctx context.Context) (*coordinationv1.Lease, []pendingClaim, error) {
	lease := &coordinationv1.Lease{}
	err := g.Records.Get(ctx, client.ObjectKey{Namespace: g.Namespace, Name: HostClaimsLease}, lease)
	if apierrors.IsNotFound(err) {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: g.Namespace, Name: HostClaimsLease}}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the recent host claims (Lease %s/%s): %w", g.Namespace, HostClaimsLease, err)
	}
	var all []pendingClaim
	if data := lease.Annotations[annotationClaims]; data != "" {
		if err := json.Unmarshal([]byte(data), &all); err != nil {
			all = nil // written by no one we know: nothing in it is trusted, the index still is
		}
	}
	now := time.Now()
	return lease, slices.DeleteFunc(all, func(p pendingClaim) bool { return !now.Before(p.Expires) }), nil
}

// record writes the recent claims and self's new hosts into the Lease; the write fails with a
// conflict if another request recorded a claim since the Lease was read.
func (g *HostGuard) record(ctx context.Context, lease *coordinationv1.Lease, pending []pendingClaim, self claim, added []hostRef) error {
	p := pendingClaim{Kind: self.kind, Namespace: self.namespace, Name: self.name, Team: self.team, Expires: time.Now().Add(pendingFor).UTC()}
	for _, ref := range added {
		p.Hosts = append(p.Hosts, ref.host)
	}
	data, err := json.Marshal(append(pending, p))
	if err != nil {
		return err
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[annotationClaims] = string(data)
	if lease.Labels == nil {
		lease.Labels = map[string]string{platformv1alpha1.LabelManagedBy: platformv1alpha1.ManagedByValue}
	}
	if lease.ResourceVersion == "" {
		return g.Records.Create(ctx, lease)
	}
	return g.Records.Update(ctx, lease)
}

// refused answers with the field errors, as an Invalid status like the other admission errors.
func refused(req admission.Request, errs field.ErrorList) admission.Response {
	gk := schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
	status := apierrors.NewInvalid(gk, req.Name, errs).ErrStatus
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}
}

// IndexHosts indexes the cached Ingresses and the given routes by the hosts they claim.
func IndexHosts(ctx context.Context, indexer client.FieldIndexer, routes []schema.GroupVersionKind) error {
	if err := indexer.IndexField(ctx, &networkingv1.Ingress{}, HostIndex, func(o client.Object) []string {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil
		}
		return claimKeys("Ingress", &unstructured.Unstructured{Object: m})
	}); err != nil {
		return err
	}
	for _, gvk := range routes {
		route := &unstructured.Unstructured{}
		route.SetGroupVersionKind(gvk)
		if err := indexer.IndexField(ctx, route, HostIndex, func(o client.Object) []string {
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				return nil
			}
			return claimKeys(gvk.Kind, u)
		}); err != nil {
			return err
		}
	}
	return nil
}

// claimKeys returns the index keys of every host an object names.
func claimKeys(kind string, obj *unstructured.Unstructured) []string {
	var keys []string
	for _, ref := range hostsOf(kind, obj) {
		if ref.host == "" || ref.host == "*" {
			continue // admitted only before the guard, or in a namespace no team holds
		}
		for _, k := range tenancy.ClaimKeys(ref.host) {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// ServedRoutes returns the Gateway API route kinds the apiserver serves, each at the first
// version that has it (the preferred one first).
func ServedRoutes(dc discovery.DiscoveryInterface) ([]schema.GroupVersionKind, error) {
	groups, err := dc.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("asking which Gateway API routes the apiserver serves: %w", err)
	}
	var out []schema.GroupVersionKind
	for _, g := range groups.Groups {
		if g.Name != GatewayGroup {
			continue
		}
		versions := append([]metav1.GroupVersionForDiscovery{g.PreferredVersion}, g.Versions...)
		for _, v := range versions {
			resources, err := dc.ServerResourcesForGroupVersion(v.GroupVersion)
			if err != nil {
				return nil, fmt.Errorf("asking which Gateway API routes the apiserver serves: %w", err)
			}
			for _, r := range resources.APIResources {
				if !slices.Contains(RouteKinds, r.Kind) || strings.Contains(r.Name, "/") ||
					slices.ContainsFunc(out, func(k schema.GroupVersionKind) bool { return k.Kind == r.Kind }) {
					continue
				}
				out = append(out, schema.GroupVersionKind{Group: GatewayGroup, Version: strings.TrimPrefix(v.GroupVersion, GatewayGroup+"/"), Kind: r.Kind})
			}
		}
	}
	return out, nil
}

// IngressHosts is the cache transform of Ingresses: their identity and hosts, nothing else.
func IngressHosts(obj any) (any, error) {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return obj, nil
	}
	out := &networkingv1.Ingress{ObjectMeta: keptMeta(ing)}
	for _, r := range ing.Spec.Rules {
		out.Spec.Rules = append(out.Spec.Rules, networkingv1.IngressRule{Host: r.Host})
	}
	for _, t := range ing.Spec.TLS {
		out.Spec.TLS = append(out.Spec.TLS, networkingv1.IngressTLS{Hosts: t.Hosts})
	}
	return out, nil
}

// RouteHosts is the cache transform of Gateway API routes: their identity and hostnames.
func RouteHosts(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	out := &unstructured.Unstructured{Object: map[string]any{}}
	out.SetAPIVersion(u.GetAPIVersion())
	out.SetKind(u.GetKind())
	m := keptMeta(u)
	out.SetName(m.Name)
	out.SetNamespace(m.Namespace)
	out.SetUID(m.UID)
	out.SetResourceVersion(m.ResourceVersion)
	out.SetCreationTimestamp(m.CreationTimestamp)
	out.SetDeletionTimestamp(m.DeletionTimestamp)
	if names, ok, _ := unstructured.NestedStringSlice(u.Object, "spec", "hostnames"); ok {
		_ = unstructured.SetNestedStringSlice(out.Object, names, "spec", "hostnames")
	}
	return out, nil
}

func keptMeta(o metav1.Object) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: o.GetName(), Namespace: o.GetNamespace(), UID: o.GetUID(), ResourceVersion: o.GetResourceVersion(),
		CreationTimestamp: o.GetCreationTimestamp(), DeletionTimestamp: o.GetDeletionTimestamp(),
	}
}
