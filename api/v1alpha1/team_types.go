package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TeamSpec is who a team is and what it may hold, as the SREs declare it.
type TeamSpec struct {
	// Members are the users, groups and service accounts who act for the team: only they (and
	// platform admins) may create or change a TenantNamespace of the team, or take back a
	// namespace the team released.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +required
	Members []Subject `json:"members"`

	// Classes are the TenantClasses the team's tenants may use. A tenant that names no class gets
	// the cluster's default class, which must then be listed here too.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +required
	Classes []string `json:"classes"`

	// Budget caps what the team holds across all its tenant namespaces, whatever their class.
	// Left out, the team is not capped beyond its classes.
	// +optional
	Budget *TeamBudget `json:"budget,omitempty"`

	// Notify are the team's default notification handles, for example "@slack-payments" or
	// "@pagerduty-payments": the burn-rate alerts of the team's ServiceSLOs notify them when
	// the ServiceSLO names no handle of its own.
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Pattern=`^@[A-Za-z0-9][A-Za-z0-9_.@-]*$`
	// +listType=set
	// +optional
	Notify []string `json:"notify,omitempty"`

	// Hosts are the host names the team's Ingresses and Gateway API routes may serve: a name
	// ("pay.example.com") or a wildcard ("*.pay.example.com": every name under
	// pay.example.com, at any depth, and wildcards inside it). Left out or empty, the team may
	// serve no host. A host another team's object already serves stays that team's, even
	// where patterns overlap: the first claim wins.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`
	// +listType=set
	// +optional
	Hosts []string `json:"hosts,omitempty"`

	// QuotaPressure sets when the team's tenants are warned that their quota fills up; it wins
	// over the class's thresholds. Left out: the class's, else 80 % warning, 95 % critical.
	// +optional
	QuotaPressure *QuotaThresholds `json:"quotaPressure,omitempty"`
}

// TeamBudget caps what one team may hold across its tenant namespaces.
type TeamBudget struct {
	// MaxNamespaces is the largest number of tenant namespaces the team may have.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxNamespaces *int32 `json:"maxNamespaces,omitempty"`

	// MaxQuota caps, resource by resource, the sum of the ResourceQuota hard limits of all the
	// team's tenant namespaces (what each ResourceQuota holds: the tenant's quota over its class
	// default and caps).
	// +optional
	MaxQuota corev1.ResourceList `json:"maxQuota,omitempty"`
}

// BudgetLeft is what a team may still add before its budget is used up.
type BudgetLeft struct {
	// Namespaces is how many more tenant namespaces the team may have (0 when at or over its
	// budget). Left out when the budget sets no namespace count.
	// +optional
	Namespaces *int32 `json:"namespaces,omitempty"`

	// Quota is, for each resource the budget caps, how much more the team's quotas may sum to
	// (0 when at or over the budget).
	// +optional
	Quota corev1.ResourceList `json:"quota,omitempty"`
}

// TeamStatus is what the operator observed about a team.
type TeamStatus struct {
	// Conditions: Ready (reason Accepted, or OverBudget while the team holds more than its
	// budget allows since the budget was lowered).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the operator last reached a verdict on: Ready, or Stalled with its reason (kstatus then reads Current or Failed); it stays behind while the operator is still working on a newer one.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Members lists the team's members in one line, for kubectl's MEMBERS column: users and
	// groups by name, service accounts as namespace/name.
	// +optional
	Members string `json:"members,omitempty"`

	// Namespaces is the number of tenant namespaces the team holds (provisioned tenants).
	// +optional
	Namespaces int32 `json:"namespaces"`

	// Waiting is the number of the team's tenants that wait for budget (reason OverBudget).
	// +optional
	Waiting int32 `json:"waiting"`

	// Quota is the sum of the ResourceQuota hard limits of the team's tenant namespaces.
	// +optional
	Quota corev1.ResourceList `json:"quota,omitempty"`

	// BudgetLeft is what the team may still add; left out when the team has no budget.
	// +optional
	BudgetLeft *BudgetLeft `json:"budgetLeft,omitempty"`

	// Dashboard is the team's Datadog dashboard (its SLOs' budgets, its monitors, the quota used
	// per namespace), kept by the operator while Datadog is configured.
	// +optional
	Dashboard *TeamDashboard `json:"dashboard,omitempty"`
}

// TeamDashboard is a Team's dashboard in Datadog.
type TeamDashboard struct {
	// ID is the dashboard's ID in Datadog.
	ID string `json:"id"`
	// URL opens the dashboard.
	URL string `json:"url"`
	// Hash identifies the content the operator last wrote, and ModifiedAt is when Datadog says
	// it was written (RFC 3339): a dashboard edited since is written again at the next poll.
	// +optional
	Hash string `json:"hash,omitempty"`
	// +optional
	ModifiedAt string `json:"modifiedAt,omitempty"`
}

// Team is a product team, declared by the SREs: who belongs to it, which classes its tenant
// namespaces may use and how much they may hold together. A TenantNamespace names its team, and
// only the team's members (and platform admins) may request or change it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tm,categories=selfserve
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name: a TenantNamespace names its team in spec.team and the operator writes it into the platform.selfserve.dev/team label: at most 63 lower-case letters, digits and '-'"
// +kubebuilder:printcolumn:name="Members",type=string,JSONPath=`.status.members`
// +kubebuilder:printcolumn:name="Namespaces",type=integer,JSONPath=`.status.namespaces`
// +kubebuilder:printcolumn:name="Budget Left",type=integer,JSONPath=`.status.budgetLeft.namespaces`
// +kubebuilder:printcolumn:name="Waiting",type=integer,JSONPath=`.status.waiting`,priority=1
// +kubebuilder:printcolumn:name="Dashboard",type=string,JSONPath=`.status.dashboard.url`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Team struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the team as the SREs declare it.
	// +required
	Spec TeamSpec `json:"spec"`

	// Status is written by the operator.
	// It reads observedGeneration 0 until the operator first evaluates the object (a schema
	// default), so that kstatus and Argo CD read a new object as in progress, not current.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status TeamStatus `json:"status,omitempty"`
}

// TeamList is a list of Teams.
// +kubebuilder:object:root=true
type TeamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Team `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Team{}, &TeamList{})
}
