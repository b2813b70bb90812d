package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// Condition types and reasons shared by every kind. Each kind adds its own part conditions.
const (
	// ConditionReady summarises every other condition of an object. It is computed, never set
	// by a single step.
	ConditionReady = "Ready"
	// ConditionReconciling is present (and True) only while the operator is still converging.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is present (and True) only when the operator cannot make progress
	// without a change to the spec or to the environment.
	ConditionStalled = "Stalled"
)

// Labels the operator puts on what it manages.
const (
	// LabelManagedBy marks objects the operator created and keeps in place.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on selfserve's objects.
	ManagedByValue = "selfserve"
	// LabelTeam names the team that owns a tenant namespace.
	LabelTeam = "platform.selfserve.dev/team"
	// LabelTenant names the TenantNamespace that manages a namespace. The namespace carries no
	// owner reference (the garbage collector would delete it, and its data, with the owner);
	// this label is the link.
	LabelTenant = "platform.selfserve.dev/tenant"
	// LabelClass names the TenantClass of a tenant namespace: the class's workload policy
	// binding selects its namespaces by it.
	LabelClass = "platform.selfserve.dev/class"
	// ReservedPrefix is the label, annotation and tag prefix reserved to the operator.
	ReservedPrefix = "platform.selfserve.dev/"
)

// PodSecurityLevel is a Pod Security Standards level, enforced through the namespace's
// pod-security.kubernetes.io/enforce label.
// +kubebuilder:validation:Enum=privileged;baseline;restricted
type PodSecurityLevel string

// Pod Security Standards levels, from the weakest to the strongest.
const (
	PodSecurityPrivileged PodSecurityLevel = "privileged"
	PodSecurityBaseline   PodSecurityLevel = "baseline"
	PodSecurityRestricted PodSecurityLevel = "restricted"
)

// NetworkIsolation says which pods may open connections to a tenant namespace.
// +kubebuilder:validation:Enum=Team;Namespace;None
type NetworkIsolation string

const (
	// NetworkIsolationTeam admits ingress only from namespaces of the same team.
	NetworkIsolationTeam NetworkIsolation = "Team"
	// NetworkIsolationNamespace admits ingress only from the namespace itself.
	NetworkIsolationNamespace NetworkIsolation = "Namespace"
	// NetworkIsolationNone adds no NetworkPolicy beyond what the tenant writes.
	NetworkIsolationNone NetworkIsolation = "None"
)

// Subject is a user, group or service account that receives a role in a tenant namespace. It
// is written as in a RoleBinding, so apiGroup may be given as kubectl prints it.
// +kubebuilder:validation:XValidation:rule="self.kind == 'ServiceAccount' ? has(self.namespace) : !has(self.namespace)",message="namespace is required for a ServiceAccount and not allowed for a User or Group"
// +kubebuilder:validation:XValidation:rule="!has(self.apiGroup) || (self.kind == 'ServiceAccount' ? self.apiGroup.size() == 0 : self.apiGroup == 'rbac.authorization.k8s.io')",message="apiGroup is rbac.authorization.k8s.io for a User or Group and empty for a ServiceAccount"
type Subject struct {
	// APIGroup is the subject's API group as RBAC writes it: rbac.authorization.k8s.io for a
	// User or Group, empty for a ServiceAccount. It may be left out.
	// +kubebuilder:validation:Enum="";rbac.authorization.k8s.io
	// +optional
	APIGroup string `json:"apiGroup,omitempty"`

	// Kind of subject: User, Group or ServiceAccount.
	// +kubebuilder:validation:Enum=User;Group;ServiceAccount
	// +required
	Kind string `json:"kind"`

	// Name of the user (as the identity provider reports it, often an e-mail address), of the
	// group, or of the service account.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Name string `json:"name"`

	// Namespace of the service account. Only for kind ServiceAccount.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// ContainerLimits are the container defaults and bounds written into the namespace's LimitRange.
// Values are Kubernetes quantities, for example cpu: 500m, memory: 512Mi. Together (a tenant's
// over its class's) they must form a LimitRange the apiserver accepts, which admission checks:
// min <= defaultRequest <= default <= max for each resource, and container resources only.
type ContainerLimits struct {
	// DefaultRequest is the request given to a container that sets none.
	// +optional
	DefaultRequest corev1.ResourceList `json:"defaultRequest,omitempty"`

	// Default is the limit given to a container that sets none.
	// +optional
	Default corev1.ResourceList `json:"default,omitempty"`

	// Max is the largest limit a single container may set.
	// +optional
	Max corev1.ResourceList `json:"max,omitempty"`

	// Min is the smallest request a single container may set.
	// +optional
	Min corev1.ResourceList `json:"min,omitempty"`
}

// NodeLocalCacheMode switches NodeLocal DNSCache injection for a tenant's pods.
// +kubebuilder:validation:Enum=Enabled;Disabled
type NodeLocalCacheMode string

const (
	// NodeLocalCacheEnabled points new pods at the node-local DNS cache, with the cluster DNS as
	// a fallback.
	NodeLocalCacheEnabled NodeLocalCacheMode = "Enabled"
	// NodeLocalCacheDisabled leaves pods with the cluster's default DNS settings.
	NodeLocalCacheDisabled NodeLocalCacheMode = "Disabled"
)

// DNSConfig is the resolver configuration injected into new pods of a tenant namespace.
type DNSConfig struct {
	// NodeLocalCache sends pod DNS queries to the NodeLocal DNSCache on the pod's node, with the
	// cluster DNS service as a second nameserver for when the cache restarts. Only pods created
	// after the change are affected; running pods keep their resolv.conf until restarted.
	// +kubebuilder:default=Disabled
	// +optional
	NodeLocalCache NodeLocalCacheMode `json:"nodeLocalCache,omitempty"`

	// Ndots is the number of dots a name needs before the resolver tries it as an absolute name
	// first. Kubernetes' default of 5 makes every external lookup try the search list first;
	// 2 is a common choice for services that call external hosts.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=15
	// +optional
	Ndots *int32 `json:"ndots,omitempty"`

	// Searches are extra search domains appended after the standard
	// <namespace>.svc.<domain>, svc.<domain>, <domain>. resolv.conf allows 32 domains in all, and
	// a pod's whole list, the standard domains included, at most 2,048 characters (admission
	// checks it with the namespace's name).
	// +kubebuilder:validation:MaxItems=29
	// +listType=set
	// +optional
	Searches []DNSSearchDomain `json:"searches,omitempty"`

	// Options are resolver options (resolv.conf "options" line).
	// +kubebuilder:validation:MaxItems=10
	// +listType=map
	// +listMapKey=name
	// +optional
	Options []DNSOption `json:"options,omitempty"`
}

// DNSSearchDomain is one DNS search domain, a lower-case DNS subdomain.
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
type DNSSearchDomain string

// DNSOption is one resolver option. timeout and attempts take a value; the others must not.
// +kubebuilder:validation:XValidation:rule="self.name in ['timeout', 'attempts'] ? has(self.value) : !has(self.value)",message="timeout and attempts need a value; other options take none"
// +kubebuilder:validation:XValidation:rule="self.name != 'timeout' || !has(self.value) || (int(self.value) >= 1 && int(self.value) <= 30)",message="timeout must be between 1 and 30 seconds"
// +kubebuilder:validation:XValidation:rule="self.name != 'attempts' || !has(self.value) || (int(self.value) >= 1 && int(self.value) <= 5)",message="attempts must be between 1 and 5"
type DNSOption struct {
	// Name of the option. ndots has its own field.
	// +kubebuilder:validation:Enum=timeout;attempts;rotate;single-request;single-request-reopen;use-vc;no-tld-query;edns0;inet6;trust-ad
	// +required
	Name string `json:"name"`

	// Value of the option, for timeout (seconds, 1-30) and attempts (1-5).
	// +kubebuilder:validation:Pattern=`^[0-9]{1,2}$`
	// +optional
	Value *string `json:"value,omitempty"`
}

// DeletionPolicy says what happens to what the operator made when its object is deleted.
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the namespace and its contents.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete deletes what the operator made.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves external objects (in Datadog) in place.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// QuotaThresholds are the percentages of a quota at which a tenant is warned. A level is
// entered when any resource reaches its threshold, and left only when every resource is 5 points
// below it, so usage that hovers at a threshold does not flap.
// +kubebuilder:validation:XValidation:rule="!has(self.warningPercent) || !has(self.criticalPercent) || self.warningPercent < self.criticalPercent",message="warningPercent must be below criticalPercent"
type QuotaThresholds struct {
	// WarningPercent: QuotaPressure turns True (reason QuotaWarning). Default 80.
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100
	// +optional
	WarningPercent *int32 `json:"warningPercent,omitempty"`
	// CriticalPercent: QuotaPressure reason QuotaCritical. Default 95.
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100
	// +optional
	CriticalPercent *int32 `json:"criticalPercent,omitempty"`
}
