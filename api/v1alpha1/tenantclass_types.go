package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TenantClassSpec is what SREs allow tenants of this class to ask for, and what they get when
// they ask for nothing.
type TenantClassSpec struct {
	// IsDefault makes this the class of every TenantNamespace that names none. At most one
	// class in the cluster may be the default; the admission webhook rejects a second one.
	// +optional
	IsDefault bool `json:"isDefault,omitempty"`

	// Quota is the ResourceQuota every tenant of the class gets: the tenant's own hard limits
	// over the class default, and every resource the class caps is always in it (at the cap when
	// neither the tenant nor the default names it).
	// +optional
	Quota ClassQuota `json:"quota,omitempty"`

	// Limits is the LimitRange every tenant gets, under the tenant's own limits resource by
	// resource. Its max is a ceiling: a tenant may lower a container maximum, never raise it;
	// its min is a floor a tenant may raise, never lower.
	// +optional
	Limits *ContainerLimits `json:"limits,omitempty"`

	// AllowedClusterRoles are the ClusterRoles a tenant may bind to extra subjects in its
	// namespace (owners always get "admin"). cluster-admin is never allowed unless listed here.
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +optional
	AllowedClusterRoles []string `json:"allowedClusterRoles,omitempty"`

	// AllowedBroadSubjects are the identities that stand for everyone, or every workload, that
	// tenants may nevertheless name as owners or binding subjects: the groups
	// system:authenticated, system:unauthenticated and system:serviceaccounts, and the user
	// system:anonymous. Empty (the default) allows none of them.
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:Enum=system:authenticated;system:unauthenticated;system:serviceaccounts;system:anonymous
	// +listType=set
	// +optional
	AllowedBroadSubjects []string `json:"allowedBroadSubjects,omitempty"`

	// PodSecurity sets the Pod Security Standards level of tenant namespaces.
	// +optional
	PodSecurity ClassPodSecurity `json:"podSecurity,omitempty"`

	// NetworkIsolation sets which network isolation tenants get and may choose.
	// +optional
	NetworkIsolation ClassNetworkIsolation `json:"networkIsolation,omitempty"`

	// AllowedLabelPrefixes are the prefixes (for example "example.com/") of extra namespace labels
	// a tenant may set. Empty means tenants may set no extra labels.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	// +optional
	AllowedLabelPrefixes []string `json:"allowedLabelPrefixes,omitempty"`

	// AllowedAnnotationPrefixes are the prefixes of extra namespace annotations a tenant may set.
	// Empty means tenants may set no extra annotations.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	// +optional
	AllowedAnnotationPrefixes []string `json:"allowedAnnotationPrefixes,omitempty"`

	// QuotaPressure sets when the class's tenants are warned that their quota fills up
	// (QuotaPressure condition, an Event, the quota metrics). A Team's own thresholds win.
	// Left out: 80 % warning, 95 % critical.
	// +optional
	QuotaPressure *QuotaThresholds `json:"quotaPressure,omitempty"`

	// DNS is the resolver configuration of tenants that set none.
	// +optional
	DNS *DNSConfig `json:"dns,omitempty"`

	// Monitoring lists the baseline Datadog monitors every tenant namespace of the class gets,
	// routed to its Team's notify handles (or the tenant's own). A tenant may tighten a
	// threshold (spec.monitoring.thresholds), never loosen or remove one.
	// +optional
	Monitoring *ClassMonitoring `json:"monitoring,omitempty"`

	// Workloads are the rules for what runs in the class's namespaces: priority classes, image
	// registries, Service types and storage classes. kube-apiserver enforces them itself (the
	// ValidatingAdmissionPolicy selfserve-tenant-workloads, with the class as its parameter),
	// also while the operator is down.
	// +kubebuilder:default={}
	// +optional
	Workloads WorkloadRules `json:"workloads,omitempty"`
}

// ClassMonitoring is what Datadog watches in every tenant namespace of a class.
type ClassMonitoring struct {
	// Baseline are the monitors each tenant namespace gets, one per entry.
	// +kubebuilder:validation:MaxItems=20
	// +listType=map
	// +listMapKey=name
	// +optional
	Baseline []BaselineMonitor `json:"baseline,omitempty"`
}

// BaselineTemplate is one of the built-in baseline monitors (docs/monitoring.md lists each
// one's Datadog query).
// +kubebuilder:validation:Enum=CrashLooping;OOMKilled;PodsPending;QuotaCritical;NoAvailableReplicas
type BaselineTemplate string

// The built-in baseline monitors.
const (
	// BaselineCrashLooping alerts on containers waiting in CrashLoopBackOff.
	BaselineCrashLooping BaselineTemplate = "CrashLooping"
	// BaselineOOMKilled alerts on containers whose last termination was an OOM kill.
	BaselineOOMKilled BaselineTemplate = "OOMKilled"
	// BaselinePodsPending alerts on pods pending for the whole window.
	BaselinePodsPending BaselineTemplate = "PodsPending"
	// BaselineQuotaCritical alerts on a resource of the namespace's quota used at or above the
	// threshold (the operator's selfserve_tenant_quota_used_ratio).
	BaselineQuotaCritical BaselineTemplate = "QuotaCritical"
	// BaselineNoAvailableReplicas alerts on a Deployment that wants replicas and has none
	// available.
	BaselineNoAvailableReplicas BaselineTemplate = "NoAvailableReplicas"
)

// BaselineMonitor is one baseline monitor of a class.
type BaselineMonitor struct {
	// Name identifies the monitor in a tenant's status, its tags and its thresholds.
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Template is the built-in monitor: CrashLooping, OOMKilled, PodsPending, QuotaCritical or
	// NoAvailableReplicas.
	Template BaselineTemplate `json:"template"`

	// Critical is the alert threshold, a decimal. Left out: the template's (0 for
	// CrashLooping, OOMKilled and PodsPending: any; the critical quota pressure threshold of
	// the tenant's Team or class as a ratio for QuotaCritical; 0 available of those desired
	// for NoAvailableReplicas).
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	// +optional
	Critical string `json:"critical,omitempty"`

	// Window is how long the condition must hold (the query's evaluation window). Left out:
	// 10m (15m for PodsPending, 5m for QuotaCritical).
	// +kubebuilder:validation:Enum=5m;10m;15m;30m;1h;2h;4h
	// +optional
	Window string `json:"window,omitempty"`

	// Priority is the monitor's priority, 1 (highest) to 5. Left out: 3.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	// +optional
	Priority *int32 `json:"priority,omitempty"`

	// DisruptedByUpgrades mutes the monitor while a ClusterUpgradePolicy window is open and
	// upgrades are allowed (node drains restart pods). Left out: true for CrashLooping,
	// PodsPending and NoAvailableReplicas, false for OOMKilled and QuotaCritical.
	// +optional
	DisruptedByUpgrades *bool `json:"disruptedByUpgrades,omitempty"`
}

// WorkloadRules are a class's rules for the pods, Services and PersistentVolumeClaims in its
// namespaces. Every list is an allow-list: empty allows none; "*" in registries or
// storageClasses allows any.
type WorkloadRules struct {
	// PriorityClasses are the PriorityClasses pods may name. Empty (the default) allows none:
	// pods run at the cluster's default priority (list a globalDefault PriorityClass here if the
	// cluster has one, since admission names it in every pod). system-cluster-critical,
	// system-node-critical and every other system- class are never allowed.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:XValidation:rule="!self.startsWith('system-')",message="system- priority classes are the cluster's own; tenants never get them"
	// +listType=set
	// +optional
	PriorityClasses []string `json:"priorityClasses,omitempty"`

	// Registries are the prefixes the images of every container (init and ephemeral ones
	// included) must start with, for example "europe-docker.pkg.dev/acme/"; a prefix ends with
	// "/" so that it names a registry or repository path, not the start of a host name. "*"
	// allows any image. Left out: ["*"], what a class allowed before this rule existed; empty
	// allows none.
	// +kubebuilder:default={"*"}
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:XValidation:rule="self == '*' || self.endsWith('/')",message="a registry prefix ends with '/' (registry.example.com/ or registry.example.com/team/), or is '*': without it, registry.example.com would also allow registry.example.com.evil.io"
	// +listType=set
	// +optional
	Registries []string `json:"registries"`

	// ServiceTypes are the Service types beyond ClusterIP that Services may have. Left out:
	// [LoadBalancer, NodePort] (the quota counts both: services.loadbalancers,
	// services.nodeports); empty allows ClusterIP only. ExternalName is allowed only when
	// listed: it points a name inside the namespace anywhere.
	// +kubebuilder:default={"LoadBalancer","NodePort"}
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:Enum=LoadBalancer;NodePort;ExternalName
	// +listType=set
	// +optional
	ServiceTypes []string `json:"serviceTypes"`

	// ExternalIPs lets Services set spec.externalIPs, which takes traffic for any address in
	// the cluster (CVE-2020-8554). Off by default.
	// +optional
	ExternalIPs bool `json:"externalIPs,omitempty"`

	// StorageClasses are the StorageClasses PersistentVolumeClaims may use (after the cluster's
	// default class is filled in). "*" allows any. Left out: ["*"]; empty allows none.
	// +kubebuilder:default={"*"}
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	// +optional
	StorageClasses []string `json:"storageClasses"`

	// NodePool pins the class's pods to dedicated nodes: every pod gets the pool's node selector
	// labels it does not set itself and the pool's tolerations (the MutatingAdmissionPolicy
	// selfserve-tenant-node-pool), and a pod that sets one of those labels to another value is
	// refused.
	// +optional
	NodePool *NodePool `json:"nodePool,omitempty"`
}

// NodePool is a set of dedicated nodes a class's pods run on.
type NodePool struct {
	// NodeSelector are labels of the pool's nodes, for example
	// cloud.google.com/gke-nodepool: pci.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=8
	NodeSelector map[string]string `json:"nodeSelector"`

	// Tolerations let the class's pods run on the pool's tainted nodes, for example
	// {key: dedicated, value: pci, effect: NoSchedule}.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
}

// ClassQuota is the default and the ceiling of a tenant's ResourceQuota.
type ClassQuota struct {
	// Default are the hard limits of a resource the tenant does not name, for example
	// requests.cpu: "4", requests.memory: 8Gi, pods: "50". Each must be at most the class's
	// max, and, as the maximum, something a ResourceQuota may hold (admission checks both).
	// +optional
	Default corev1.ResourceList `json:"default,omitempty"`

	// Max are the largest hard limits a tenant may have, resource by resource. A resource listed
	// here is always in the tenant's ResourceQuota; one not listed is not capped by the class.
	// +optional
	Max corev1.ResourceList `json:"max,omitempty"`
}

// ClassPodSecurity sets the Pod Security Standards level of tenant namespaces.
// +kubebuilder:validation:XValidation:rule="!has(self.default) || !has(self.minimum) || (self.minimum == 'privileged') || (self.minimum == 'baseline' && self.default != 'privileged') || (self.minimum == 'restricted' && self.default == 'restricted')",message="default must not be weaker than minimum"
type ClassPodSecurity struct {
	// Default is the level of a tenant that asks for none.
	// +kubebuilder:default=baseline
	// +optional
	Default PodSecurityLevel `json:"default,omitempty"`

	// Minimum is the weakest level a tenant may ask for (privileged < baseline < restricted).
	// +kubebuilder:default=baseline
	// +optional
	Minimum PodSecurityLevel `json:"minimum,omitempty"`
}

// ClassNetworkIsolation sets which network isolation tenants get and may choose.
// +kubebuilder:validation:XValidation:rule="!has(self.allowed) || !has(self.default) || self.default in self.allowed",message="default must be one of allowed"
type ClassNetworkIsolation struct {
	// Default is the isolation of a tenant that asks for none.
	// +kubebuilder:default=Team
	// +optional
	Default NetworkIsolation `json:"default,omitempty"`

	// Allowed are the isolation modes a tenant may choose. Empty allows only the default.
	// +kubebuilder:validation:MaxItems=3
	// +listType=set
	// +optional
	Allowed []NetworkIsolation `json:"allowed,omitempty"`
}

// TenantClassStatus is what the operator observed about a class.
type TenantClassStatus struct {
	// Conditions: Ready (reason Accepted, with how many tenants use the class and how many of
	// them hold more than it allows since it was tightened), and Stalled with reason
	// DuplicateDefault while another class also claims to be the default.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the operator last reached a verdict on: Ready, or Stalled with its reason (kstatus then reads Current or Failed); it stays behind while the operator is still working on a newer one.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Tenants is the number of TenantNamespaces of this class, counting those that name no
	// class when this is the default.
	// +optional
	Tenants int32 `json:"tenants"`
}

// TenantClass is a set of guard rails and defaults for tenant namespaces, written by SREs.
// Developers pick a class in their TenantNamespace; anything they leave out comes from the class,
// and anything they ask for must stay within it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tc,categories=selfserve
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name: labels the class's namespaces: at most 63 lower-case letters, digits and '-'"
// +kubebuilder:printcolumn:name="Default",type=boolean,JSONPath=`.spec.isDefault`
// +kubebuilder:printcolumn:name="Tenants",type=integer,JSONPath=`.status.tenants`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TenantClass struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the guard rails and defaults.
	// +optional
	Spec TenantClassSpec `json:"spec,omitempty"`

	// Status is written by the operator.
	// It reads observedGeneration 0 until the operator first evaluates the object (a schema
	// default), so that kstatus and Argo CD read a new object as in progress, not current.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status TenantClassStatus `json:"status,omitempty"`
}

// TenantClassList is a list of TenantClasses.
// +kubebuilder:object:root=true
type TenantClassList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TenantClass `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TenantClass{}, &TenantClassList{})
}
