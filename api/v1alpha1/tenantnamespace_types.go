package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of a TenantNamespace, one per part the operator provisions.
const (
	ConditionNamespaceReady = "NamespaceReady"
	ConditionRBACReady      = "RBACReady"
	ConditionQuotaReady     = "QuotaReady"
	ConditionLimitsReady    = "LimitsReady"
	ConditionNetworkReady   = "NetworkReady"
	ConditionDNSReady       = "DNSReady"

	// ConditionWithinClass is False when the class has been tightened below what the tenant
	// already has. The tenant keeps what it has (running workloads are not starved) until its
	// spec is brought within the class; the condition does not make the tenant unready.
	ConditionWithinClass = "WithinClass"
	// ConditionQuotaPressure is True while a resource of the quota is used beyond the warning
	// threshold (reason QuotaWarning) or the critical one (QuotaCritical); False, reason
	// QuotaBelowThresholds, otherwise. It does not make the tenant unready: it is a warning.
	ConditionQuotaPressure = "QuotaPressure"
	// ConditionApprovalRequired is True while the spec goes beyond the class and waits for a
	// platform admin (reason AwaitingApproval) or was rejected (Rejected); the tenant keeps what
	// the class allows meanwhile (a new one is not created). False: NotNeeded or Approved.
	ConditionApprovalRequired = "ApprovalRequired"
	// ConditionMonitored says whether Datadog holds the class's baseline monitors for the
	// namespace (reason Synced), or why not (DatadogNotConfigured, WaitingForInventory, a
	// Datadog error). Absent when the class has none. It does not make the tenant unready: the
	// namespace works without Datadog, and an outage there must not fail every GitOps sync.
	ConditionMonitored = "Monitored"
)

// TenantNamespaceSpec is what a team asks for in its namespace.
type TenantNamespaceSpec struct {
	// Team owns the namespace: the name of a Team the requester is a member of (platform admins
	// excepted). The Team's budget counts the namespace, its classes bound spec.class and, with
	// Team network isolation, it says which namespaces may reach this one. It cannot change
	// after creation.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="team is immutable; create a new TenantNamespace for another team"
	// +required
	Team string `json:"team"`

	// Class is the TenantClass whose guard rails and defaults apply; the team's Team must list
	// it. Empty means the cluster's default class.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Class string `json:"class,omitempty"`

	// Owners are bound to the "admin" ClusterRole in the namespace. They, when members of the
	// team, and platform admins are the only ones who may change or delete this TenantNamespace.
	// Identities that stand for everyone (groups system:authenticated, system:unauthenticated,
	// system:serviceaccounts; user system:anonymous) are refused unless the class allows them.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +required
	Owners []Subject `json:"owners"`

	// RoleBindings bind extra subjects to ClusterRoles in the namespace. A ClusterRole the class
	// does not list in allowedClusterRoles waits for a platform admin's approval (see clusterRole).
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=clusterRole
	// +optional
	RoleBindings []TenantRoleBinding `json:"roleBindings,omitempty"`

	// Quota sets hard limits of the namespace's ResourceQuota, over the class default: a
	// resource left out keeps the class default (or the class maximum when the class caps it
	// without a default). Each limit must stay within the class maximum and the team budget.
	// +optional
	Quota *TenantQuota `json:"quota,omitempty"`

	// Limits sets the namespace's LimitRange (container defaults and bounds) over the class's,
	// resource by resource. A max may not exceed the class max, a min may not go below the class
	// min.
	// +optional
	Limits *ContainerLimits `json:"limits,omitempty"`

	// NetworkIsolation says who may open connections to pods in the namespace: Team (only
	// namespaces of the same team), Namespace (only the namespace itself) or None. DNS egress is
	// always allowed. Left out, the class default applies.
	// +optional
	NetworkIsolation NetworkIsolation `json:"networkIsolation,omitempty"`

	// PodSecurity is the Pod Security Standards level enforced in the namespace. It may not be
	// weaker than the class minimum. Left out, the class default applies.
	// +optional
	PodSecurity PodSecurityLevel `json:"podSecurity,omitempty"`

	// Monitoring says where the class's baseline Datadog monitors notify and which thresholds
	// this namespace tightens.
	// +optional
	Monitoring *TenantMonitoring `json:"monitoring,omitempty"`

	// DNS configures the resolver of new pods (NodeLocal DNSCache, ndots, searches, options).
	// Left out, the class default applies.
	// +optional
	DNS *DNSConfig `json:"dns,omitempty"`

	// Labels are extra labels for the Namespace. Keys must start with a prefix the class allows;
	// the platform.selfserve.dev/ and pod-security.kubernetes.io/ prefixes are reserved. Keys and
	// values follow Kubernetes' label syntax (a value: at most 63 letters, digits, '-', '_' or
	// '.', starting and ending with a letter or digit).
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('platform.selfserve.dev/') && !k.startsWith('pod-security.kubernetes.io/') && k != 'app.kubernetes.io/managed-by')",message="platform.selfserve.dev/, pod-security.kubernetes.io/ and app.kubernetes.io/managed-by are set by the operator"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations are extra annotations for the Namespace. Keys must start with a prefix the class
	// allows; the platform.selfserve.dev/ prefix is reserved.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('platform.selfserve.dev/'))",message="the platform.selfserve.dev/ prefix is set by the operator"
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// DeletionPolicy says what happens to the namespace when this TenantNamespace is deleted.
	// Retain (the default) keeps the namespace and everything in it, removes only what the
	// operator added, and marks it released so a TenantNamespace of the same name and team can
	// adopt it again. Delete deletes the namespace and everything in it.
	// +kubebuilder:validation:Enum=Retain;Delete
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// TenantMonitoring is a tenant's say over its class's baseline monitors.
type TenantMonitoring struct {
	// Notify are the handles the baseline monitors notify, in place of the Team's notify.
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Pattern=`^@[A-Za-z0-9][A-Za-z0-9_.@-]*$`
	// +listType=set
	// +optional
	Notify []string `json:"notify,omitempty"`

	// Thresholds tighten baseline monitors of the class, by name. Admission refuses a
	// threshold looser than the class's or for a monitor the class does not have; one that a
	// later class change makes looser is ignored (the class's applies, and Monitored says so).
	// +kubebuilder:validation:MaxItems=20
	// +listType=map
	// +listMapKey=name
	// +optional
	Thresholds []MonitorThreshold `json:"thresholds,omitempty"`
}

// MonitorThreshold is a tenant's critical threshold for one baseline monitor.
type MonitorThreshold struct {
	// Name is the class's baseline monitor.
	// +kubebuilder:validation:MaxLength=40
	Name string `json:"name"`
	// Critical is the alert threshold, a decimal: at most the class's for a monitor that
	// alerts above it, at least the class's for one that alerts below it (NoAvailableReplicas).
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	Critical string `json:"critical"`
}

// TenantMonitorStatus is one baseline monitor of the namespace in Datadog.
type TenantMonitorStatus struct {
	// Name is the class's baseline monitor.
	Name string `json:"name"`
	// ID is the monitor's ID in Datadog.
	ID int64 `json:"id"`
	// State is Datadog's overall state of the monitor at the last read (OK, Alert, Warn,
	// No Data, ...).
	// +optional
	State string `json:"state,omitempty"`
}

// TenantRoleBinding binds subjects to one ClusterRole inside the tenant namespace.
type TenantRoleBinding struct {
	// ClusterRole to bind, for example "edit" or "view". It must be in the class's
	// allowedClusterRoles (another one waits for a platform admin's approval; cluster-admin, or
	// a role the operator itself may not bind, is refused). The binding is named
	// selfserve-<clusterRole>, so "owners" is refused: it would replace the owners' binding.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=243
	// +kubebuilder:validation:XValidation:rule="self != 'owners'",message="the binding selfserve-owners is the owners' own (ClusterRole admin); bind owners through spec.owners"
	// +required
	ClusterRole string `json:"clusterRole"`

	// Subjects receive the role.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +required
	Subjects []Subject `json:"subjects"`
}

// TenantQuota is the ResourceQuota of a tenant namespace.
type TenantQuota struct {
	// Hard are the hard limits, as in a ResourceQuota: compute (requests.cpu, requests.memory,
	// limits.cpu, limits.memory), storage (requests.storage, persistentvolumeclaims) and object
	// counts (pods, services, count/deployments.apps …). Values are Kubernetes quantities such
	// as "8", 500m or 16Gi. They override the class default resource by resource; each must
	// stay within the class maximum and the team budget. Admission refuses what a ResourceQuota
	// may not hold (checked by the apiserver itself): a name that is neither a standard quota
	// resource, count/<resource>.<group>, nor a qualified name such as requests.nvidia.com/gpu;
	// a negative value; a fraction of a count such as pods.
	// +kubebuilder:validation:MinProperties=1
	// +required
	Hard corev1.ResourceList `json:"hard"`
}

// QuotaUsage is the quota of a namespace and how much of it is used, copied from the
// ResourceQuota's status.
type QuotaUsage struct {
	// Hard are the enforced limits.
	// +optional
	Hard corev1.ResourceList `json:"hard,omitempty"`
	// Used is what the namespace's objects used at updated. Below the thresholds it is
	// refreshed at most once a minute (a status write per pod would load the apiserver); a
	// change of pressure level is written at once.
	// +optional
	Used corev1.ResourceList `json:"used,omitempty"`
	// UsedPercent is used as a percentage of hard, per resource, rounded down.
	// +optional
	UsedPercent map[corev1.ResourceName]int32 `json:"usedPercent,omitempty"`
	// Updated is when used was copied from the ResourceQuota.
	// +optional
	Updated *metav1.Time `json:"updated,omitempty"`
}

// TenantNamespaceStatus is what the operator observed about a tenant namespace.
type TenantNamespaceStatus struct {
	// Conditions: one per part (NamespaceReady, RBACReady, QuotaReady, LimitsReady,
	// NetworkReady, DNSReady), WithinClass (False when the class was tightened below what the
	// tenant has) and the summary Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the operator last reached a verdict on: Ready, or Stalled with its reason (kstatus then reads Current or Failed); it stays behind while the operator is still working on a newer one.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Class is the TenantClass in effect. For a spec that names none it is the default class
	// when the tenant was first provisioned, and it stays its class when another class becomes
	// the default (name a class in spec.class to move it).
	// +optional
	Class string `json:"class,omitempty"`

	// Quota is the namespace's quota and its usage.
	// +optional
	Quota *QuotaUsage `json:"quota,omitempty"`

	// PendingApproval says what of the spec goes beyond the class and waits for a platform
	// admin's approval, and the hash of the spec an approval must name.
	// +optional
	PendingApproval *PendingApproval `json:"pendingApproval,omitempty"`

	// Approval is a platform admin's decision on a spec beyond the class, set with
	// kubectl patch --subresource=status; only platform admins may set it (the webhook refuses
	// anyone else), and it holds only for the spec whose hash it names.
	// +optional
	Approval *Approval `json:"approval,omitempty"`

	// Monitors are the class's baseline monitors of this namespace in Datadog.
	// +listType=map
	// +listMapKey=name
	// +optional
	Monitors []TenantMonitorStatus `json:"monitors,omitempty"`

	// UnknownCreates are creates of baseline monitors whose outcome is unknown (see
	// ServiceSLO's): nothing is created in their place until a look-up after they settle.
	// +optional
	UnknownCreates []UnknownCreate `json:"unknownCreates,omitempty"`

	// ProvisionedSpec is the hash of the spec in effect in full (within its class, approved, or
	// no more than the namespace already holds); empty while part of it waits for approval. It
	// is a report only: what a tenant keeps beyond its class is read from the objects in its
	// namespace, never from its status.
	// +optional
	ProvisionedSpec string `json:"provisionedSpec,omitempty"`
}

// PendingApproval is what waits for a platform admin.
type PendingApproval struct {
	// SpecHash identifies the spec waiting for approval.
	SpecHash string `json:"specHash"`
	// Needs lists what goes beyond the class, one line each, as admission would have said it.
	// +listType=atomic
	Needs []string `json:"needs"`
}

// Decision is a platform admin's answer to a spec beyond its class.
// +kubebuilder:validation:Enum=Approved;Rejected
type Decision string

// Decisions.
const (
	DecisionApproved Decision = "Approved"
	DecisionRejected Decision = "Rejected"
)

// Approval is a platform admin's decision on one spec.
type Approval struct {
	// SpecHash is status.pendingApproval.specHash of the spec decided on.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{32}$`
	SpecHash string `json:"specHash"`
	// Decision is Approved or Rejected.
	Decision Decision `json:"decision"`
	// By is the admin who decided: it must be the user sending the decision.
	// +kubebuilder:validation:MinLength=1
	By string `json:"by"`
	// Reason, shown to the tenant's owners in an Event.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Reason string `json:"reason,omitempty"`
	// Grants are the values an approval lets the tenant hold beyond its class, recorded by the
	// operator from the spec the admin approved. They name values, not a spec: a later edit, or
	// a CRD upgrade that changes how specs serialize (and so every specHash), keeps them, and
	// only what asks for more than they grant waits for a new approval. Only platform admins
	// and the operator can write them.
	// +optional
	Grants *Grants `json:"grants,omitempty"`
}

// Grants are approved values beyond a tenant's class.
type Grants struct {
	// SpecHash is the approval's specHash these values were recorded from.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{32}$`
	SpecHash string `json:"specHash"`
	// Quota is the most of each resource of spec.quota.hard that is approved.
	// +optional
	Quota corev1.ResourceList `json:"quota,omitempty"`
	// LimitsMax is the most of each container limit maximum that is approved.
	// +optional
	LimitsMax corev1.ResourceList `json:"limitsMax,omitempty"`
	// LimitsMin is the least of each container limit minimum that is approved.
	// +optional
	LimitsMin corev1.ResourceList `json:"limitsMin,omitempty"`
	// ClusterRoles are the ClusterRoles beyond the class that role bindings may bind.
	// +listType=set
	// +optional
	ClusterRoles []string `json:"clusterRoles,omitempty"`
}

// TenantNamespace is a namespace a team asks for. The operator creates the namespace of the same
// name with the team's RBAC, quota, limits, network isolation, Pod Security level and DNS
// settings, within the guard rails of a TenantClass, and keeps them in place.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tns,categories=selfserve
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name: becomes the namespace name: at most 63 lower-case letters, digits and '-'"
// +kubebuilder:validation:XValidation:rule="!self.metadata.name.startsWith('kube-') && !(self.metadata.name in ['default', 'kube-system', 'kube-public', 'kube-node-lease'])",message="metadata.name: default and kube-* are protected namespaces and cannot be tenants"
// +kubebuilder:printcolumn:name="Team",type=string,JSONPath=`.spec.team`
// +kubebuilder:printcolumn:name="Class",type=string,JSONPath=`.status.class`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Approval",type=string,JSONPath=`.status.conditions[?(@.type=="ApprovalRequired")].reason`
// +kubebuilder:printcolumn:name="Monitored",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Monitored")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TenantNamespace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the team asks for.
	// +required
	Spec TenantNamespaceSpec `json:"spec"`

	// Status is written by the operator.
	// It reads observedGeneration 0 until the operator first evaluates the object (a schema
	// default), so that kstatus and Argo CD read a new object as in progress, not current.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status TenantNamespaceStatus `json:"status,omitempty"`
}

// TenantNamespaceList is a list of TenantNamespaces.
// +kubebuilder:object:root=true
type TenantNamespaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TenantNamespace `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TenantNamespace{}, &TenantNamespaceList{})
}
