package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition type and reasons of a ClusterUpgradePolicy.
const (
	// ConditionUpgradeAllowed is True while the cluster may be upgraded now.
	ConditionUpgradeAllowed = "UpgradeAllowed"

	ReasonInsideWindow    = "InsideWindow"
	ReasonOutsideWindow   = "OutsideWindow"
	ReasonExcluded        = "Excluded"
	ReasonErrorBudgetLow  = "ErrorBudgetLow"
	ReasonMonitorAlerting = "MonitorAlerting"
	ReasonSuspended       = "Suspended"
	// ReasonUpstreamSoaking: an upstream cluster (spec.rollout) has not run a version newer than
	// this cluster's for the soak time, or cannot be read.
	ReasonUpstreamSoaking = "UpstreamSoaking"
	// ReasonUpstreamBudgetLow: an upstream cluster's rollout gate (an error budget, a monitor in
	// Alert) fails, which restarts its soak.
	ReasonUpstreamBudgetLow = "UpstreamBudgetLow"

	// ConditionGatesEvaluated is True when every gate could be read (reason Evaluated), False
	// when one could not (GateUnavailable): a gate that cannot be read does not block.
	ConditionGatesEvaluated = "GatesEvaluated"
	// ConditionProviderSynced is True when the provider holds the policy (Synced) or there is
	// none (NotConfigured); False when the sync failed (SyncFailed: retried with backoff) or the
	// policy cannot be sent as it is (Invalid: waits for a spec change).
	ConditionProviderSynced = "ProviderSynced"

	ReasonGatesEvaluated        = "Evaluated"
	ReasonGateUnavailable       = "GateUnavailable"
	ReasonProviderSynced        = "Synced"
	ReasonProviderNotConfigured = "NotConfigured"
	ReasonSyncFailed            = "SyncFailed"
	ReasonProviderInvalid       = "Invalid"
)

// UpgradeScope says which upgrades an exclusion or a gate holds back, as GKE names them.
// +kubebuilder:validation:Enum=NoUpgrades;NoMinorUpgrades;NoMinorOrNodeUpgrades
type UpgradeScope string

const (
	// ScopeNoUpgrades holds back every upgrade, patch versions included.
	ScopeNoUpgrades UpgradeScope = "NoUpgrades"
	// ScopeNoMinorUpgrades holds back minor upgrades of the control plane and nodes; patches
	// still happen.
	ScopeNoMinorUpgrades UpgradeScope = "NoMinorUpgrades"
	// ScopeNoMinorOrNodeUpgrades holds back minor upgrades and every node upgrade; control plane
	// patches still happen.
	ScopeNoMinorOrNodeUpgrades UpgradeScope = "NoMinorOrNodeUpgrades"
)

// ClusterUpgradePolicySpec says when the cluster may be upgraded and what holds upgrades back.
// +kubebuilder:validation:XValidation:rule="!has(self.rollout) || !has(self.provider) || !has(self.provider.gke) || self.rollout.upstreams.all(u, u.gke.project != self.provider.gke.project || u.gke.location != self.provider.gke.location || u.gke.cluster != self.provider.gke.cluster)",message="a cluster cannot follow itself: an upstream of spec.rollout names the policy's own GKE cluster",fieldPath=".rollout.upstreams"
type ClusterUpgradePolicySpec struct {
	// MaintenanceWindows are the recurring periods in which upgrades may start. Outside every
	// window, upgrades are held back. With a GKE provider, GKE's limits are checked when the
	// policy is applied: the windows must fit GKE's one recurring window (the same start, length
	// and frequency once in UTC), and leave at least 48 hours of availability in any 32 days,
	// counting only stretches of 4 hours or more, once the NoUpgrades exclusions are taken out.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +required
	MaintenanceWindows []MaintenanceWindow `json:"maintenanceWindows"`

	// Exclusions are one-off freeze periods (a sales event, the holidays) that hold back the
	// upgrades of their scope even inside a window. With a GKE provider, at most 20 exclusions
	// that have not ended (19 when the policy has gates or a rollout, or is suspended: GKE keeps one for the
	// hold), checked when the policy is applied.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +optional
	Exclusions []Exclusion `json:"exclusions,omitempty"`

	// Gates hold upgrades back while the services are unhealthy.
	// +optional
	Gates *Gates `json:"gates,omitempty"`

	// Rollout makes this cluster follow upstream clusters (production following staging): an
	// upgrade waits until every upstream has run a newer version for the soak time with its
	// gates holding throughout. With a GKE provider the wait is a maintenance exclusion
	// (selfserve-gate) of the rollout's scope.
	// +optional
	Rollout *Rollout `json:"rollout,omitempty"`

	// Provider is the managed Kubernetes service whose maintenance policy is kept in line with
	// this policy. Left out, the policy is only reported in status (for pipelines that run
	// upgrades themselves and wait on the UpgradeAllowed condition).
	// +optional
	Provider *Provider `json:"provider,omitempty"`

	// Suspend holds every upgrade back until it is set to false again.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// Weekday is a day of the week.
// +kubebuilder:validation:Enum=Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday
type Weekday string

// MaintenanceWindow is a recurring period, in local time, in which upgrades may start.
// +kubebuilder:validation:XValidation:rule="has(self.daysOfWeek) != has(self.rrule)",message="set exactly one of daysOfWeek or rrule"
type MaintenanceWindow struct {
	// Name identifies the window in status and events.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// DaysOfWeek are the days on which the window starts.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=7
	// +listType=set
	// +optional
	DaysOfWeek []Weekday `json:"daysOfWeek,omitempty"`

	// RRule is an iCalendar recurrence rule for the days on which the window starts, for
	// example "FREQ=MONTHLY;BYDAY=1SA" (first Saturday of the month) or
	// "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH". FREQ is WEEKLY or MONTHLY; BYDAY is required. As
	// RFC 5545 says, each part appears once, and a position (1SA, -1FR) only in a monthly rule.
	// INTERVAL counts local weeks (Monday first) or months from January 2024.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^FREQ=(WEEKLY|MONTHLY)(;(INTERVAL=[1-9][0-9]?|BYDAY=([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)(,([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU))*))+$`
	// +kubebuilder:validation:XValidation:rule="self.contains(';BYDAY=')",message="rrule needs BYDAY"
	// +kubebuilder:validation:XValidation:rule="!self.matches('INTERVAL=.*INTERVAL=') && !self.matches('BYDAY=.*BYDAY=')",message="INTERVAL and BYDAY may each appear once (RFC 5545)"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('FREQ=WEEKLY') || !self.matches('BYDAY=[^;]*[0-9]')",message="a weekly rule takes days without a position; positions such as 1MO belong to a monthly rule (RFC 5545)"
	// +optional
	RRule string `json:"rrule,omitempty"`

	// Start is the local time of day at which the window opens, "HH:MM" (24-hour clock). On a
	// day when that time does not exist (the clock jumps forward) the window opens at the
	// first instant after the jump; when it occurs twice, at the first occurrence.
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	// +required
	Start string `json:"start"`

	// Duration is how long the window stays open, from 1h to 168h, for example "4h" or "6h30m".
	// A window may run past midnight.
	// +kubebuilder:validation:Pattern=`^([0-9]+h)?([0-9]+m)?$`
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('168h')",message="duration must be between 1h and 168h"
	// +required
	Duration string `json:"duration"`

	// TimeZone is the IANA time zone of start, for example "Europe/Berlin" or
	// "America/New_York". Windows follow the zone's daylight-saving changes.
	// +required
	TimeZone TimeZone `json:"timeZone"`
}

// Exclusion is a one-off period in which the upgrades of a scope are held back. In GKE it is
// named selfserve-<name>.
// +kubebuilder:validation:XValidation:rule="timestamp(self.end) > timestamp(self.start)",message="end must be after start",fieldPath=".end"
// +kubebuilder:validation:XValidation:rule="self.name != 'gate'",message="gate is reserved: selfserve-gate is the exclusion a blocking gate adds in GKE",fieldPath=".name"
type Exclusion struct {
	// Name identifies the exclusion, for example "black-friday".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// Start is when the exclusion begins, RFC 3339 with an offset, for example
	// "2026-11-26T00:00:00-05:00".
	// +required
	Start metav1.Time `json:"start"`

	// End is when the exclusion ends; it must be after start. With a GKE provider, a NoUpgrades
	// exclusion lasts at most 30 days and a narrower one at most 180 days (GKE also ends those
	// at the end of support of the cluster's minor version, which only GKE knows: a sync past
	// it fails and says so in ProviderSynced).
	// +required
	End metav1.Time `json:"end"`

	// Scope is which upgrades are held back: NoUpgrades (all), NoMinorUpgrades (patches still
	// happen) or NoMinorOrNodeUpgrades (only control plane patches happen).
	// +kubebuilder:default=NoUpgrades
	// +optional
	Scope UpgradeScope `json:"scope,omitempty"`
}

// Gates hold upgrades back while services are unhealthy.
type Gates struct {
	// ErrorBudget gates block upgrades while selected ServiceSLOs have little error budget left.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	ErrorBudget []ErrorBudgetGate `json:"errorBudget,omitempty"`

	// Monitors gates block upgrades while selected Datadog monitors are in Alert.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Monitors []MonitorGate `json:"monitors,omitempty"`
}

// ErrorBudgetGate blocks upgrades of a scope while any selected ServiceSLO of the listed teams
// has less error budget left than minRemainingPercent.
type ErrorBudgetGate struct {
	// Teams whose ServiceSLOs the gate reads: only ServiceSLOs in namespaces labelled
	// platform.selfserve.dev/team with one of these names count (the operator sets that label
	// on a tenant namespace from a Team its requester belongs to; SREs may set it on their own
	// namespaces). A tenant of another team cannot hold upgrades back by labelling its SLOs.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	// +required
	Teams []string `json:"teams"`

	// Selector selects, by label, ServiceSLOs of those teams. An empty selector selects all of
	// them.
	// +required
	Selector metav1.LabelSelector `json:"selector"`

	// Timeframe is the objective whose budget is read. Left out, every objective counts.
	// +optional
	Timeframe Timeframe `json:"timeframe,omitempty"`

	// MinRemainingPercent is the error budget, in percent, below which upgrades are held back.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +required
	MinRemainingPercent int32 `json:"minRemainingPercent"`

	// Scope is which upgrades the gate holds back.
	// +kubebuilder:default=NoMinorOrNodeUpgrades
	// +optional
	Scope UpgradeScope `json:"scope,omitempty"`
}

// MonitorGate blocks upgrades of a scope while any Datadog monitor carrying all the tags is in
// Alert. Monitors selfserve made for ServiceSLOs (tagged managed-by:selfserve) count only when
// their team is listed in teams: tenants choose their SLOs' tags, so without that a tenant could
// join the gate.
type MonitorGate struct {
	// Tags select Datadog monitors: a monitor must carry every tag, for example
	// ["service:checkout", "upgrade-gate:true"].
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z][a-zA-Z0-9_\-./:]*$`
	// +listType=set
	// +required
	Tags []string `json:"tags"`

	// Teams whose selfserve-made monitors (burn-rate alerts of their ServiceSLOs) count. Left
	// out, none of them do; monitors made outside selfserve always count.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	// +optional
	Teams []string `json:"teams,omitempty"`

	// Scope is which upgrades the gate holds back.
	// +kubebuilder:default=NoMinorOrNodeUpgrades
	// +optional
	Scope UpgradeScope `json:"scope,omitempty"`
}

// Rollout is the clusters this one follows and what they must show before it upgrades.
type Rollout struct {
	// Upstreams are the clusters whose versions this one follows, read from the GKE API.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=name
	// +required
	Upstreams []Upstream `json:"upstreams"`

	// SoakTime is how long every upstream must have run a version, its gates holding throughout,
	// before this cluster may take it: from 1h to 720h, for example "72h".
	// +kubebuilder:validation:Pattern=`^([0-9]+h)?([0-9]+m)?$`
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('720h')",message="soakTime must be between 1h and 720h"
	// +required
	SoakTime string `json:"soakTime"`

	// Scope is which upgrades wait for the upstreams: NoMinorUpgrades (the default: a minor
	// upgrade waits until every upstream has soaked a newer minor; patches go on) or NoUpgrades
	// (every upgrade waits until every upstream has soaked a newer version).
	// +kubebuilder:default=NoMinorUpgrades
	// +kubebuilder:validation:XValidation:rule="self != 'NoMinorOrNodeUpgrades'",message="a rollout holds NoMinorUpgrades or NoUpgrades"
	// +optional
	Scope UpgradeScope `json:"scope,omitempty"`

	// Gates are read in Datadog for each upstream, among the SLOs and monitors its operator tags
	// cluster:<upstream name> (its --cluster-name). A gate that fails during the soak restarts
	// it: the upstream's gates must hold for a whole soak time.
	// +optional
	Gates *UpstreamGates `json:"gates,omitempty"`
}

// Upstream is a cluster this one follows.
type Upstream struct {
	// Name is the upstream's cluster name as its selfserve operator knows it (--cluster-name):
	// its SLOs and monitors carry the tag cluster:<name> in Datadog.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// GKE is where the upstream's versions are read (its control plane and node pools, and when
	// its last upgrade ended).
	// +required
	GKE GKECluster `json:"gke"`
}

// UpstreamGates are the gates an upstream's soak must pass.
type UpstreamGates struct {
	// ErrorBudget gates fail while an SLO of the listed teams in the upstream cluster has less
	// error budget left than minRemainingPercent.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	ErrorBudget []UpstreamBudgetGate `json:"errorBudget,omitempty"`

	// Monitors gates fail while a monitor of the upstream cluster carrying every tag is in Alert.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Monitors []UpstreamMonitorGate `json:"monitors,omitempty"`
}

// UpstreamBudgetGate reads the error budgets of the upstream's SLOs in Datadog: the SLOs tagged
// cluster:<upstream>, team:<one of teams> and every tag listed.
type UpstreamBudgetGate struct {
	// Teams whose SLOs count (the operator sets the team: tag; tenants cannot).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	// +required
	Teams []string `json:"teams"`

	// Tags further select the SLOs, for example ["service:checkout"].
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z][a-zA-Z0-9_\-./:]*$`
	// +listType=set
	// +optional
	Tags []string `json:"tags,omitempty"`

	// Timeframe is the objective whose budget is read. Left out, every objective counts.
	// +optional
	Timeframe Timeframe `json:"timeframe,omitempty"`

	// MinRemainingPercent is the error budget, in percent, below which the gate fails.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +required
	MinRemainingPercent int32 `json:"minRemainingPercent"`
}

// UpstreamMonitorGate fails while a monitor of the upstream cluster (tagged cluster:<upstream>)
// carrying every tag is in Alert. The burn-rate monitors selfserve made for ServiceSLOs count
// only when their team is listed in teams, as in a MonitorGate.
type UpstreamMonitorGate struct {
	// Tags select Datadog monitors, for example ["upgrade-gate:true"].
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z][a-zA-Z0-9_\-./:]*$`
	// +listType=set
	// +required
	Tags []string `json:"tags"`

	// Teams whose selfserve-made monitors count. Left out, none of them do.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	// +optional
	Teams []string `json:"teams,omitempty"`
}

// Provider is the managed Kubernetes service to keep in line with the policy.
type Provider struct {
	// GKE keeps a Google Kubernetes Engine cluster's maintenance policy in line.
	// +optional
	GKE *GKECluster `json:"gke,omitempty"`
}

// GKECluster names a GKE cluster.
type GKECluster struct {
	// Project is the Google Cloud project ID.
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`
	// +required
	Project string `json:"project"`

	// Location is the cluster's region or zone, for example "europe-west1" or "europe-west1-b".
	// +kubebuilder:validation:Pattern=`^[a-z]+-[a-z]+[0-9]+(-[a-z])?$`
	// +required
	Location string `json:"location"`

	// Cluster is the cluster's name.
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`
	// +required
	Cluster string `json:"cluster"`
}

// TimeWindow is a period with a start and an end.
type TimeWindow struct {
	// Start of the period. Windows that overlap or touch are one period, which keeps the same
	// start and names from its start to its end (a continuous one excepted: see continuous).
	Start metav1.Time `json:"start"`
	// End of the period; left out when the period is continuous.
	// +optional
	End *metav1.Time `json:"end,omitempty"`
	// Window names the maintenance windows with an occurrence in the period, comma-separated,
	// in the order they first open.
	// +optional
	Window string `json:"window,omitempty"`
	// Continuous says the windows chain without closing for more than 35 days (windows of a day
	// or more can chain forever): an open period that began more than 35 days ago or runs on
	// more than 35 days from now, or a next one longer than 35 days. It has no end to report, and
	// an open one's start is that of its earliest occurrence within the last 35 days.
	// +optional
	Continuous bool `json:"continuous,omitempty"`
}

// ActiveExclusion is an exclusion in force now.
type ActiveExclusion struct {
	// Name of the exclusion, as spec.exclusions names it (GKE has it as selfserve-<name>). The
	// exclusion a blocking gate adds in GKE (selfserve-gate) is not listed here: UpgradeAllowed
	// and status.blockers say what holds upgrades back.
	Name string `json:"name"`
	// Scope it holds back.
	Scope UpgradeScope `json:"scope"`
	// End is when it ends.
	// +optional
	End *metav1.Time `json:"end,omitempty"`
}

// GateBlocker is one thing that holds upgrades back now.
type GateBlocker struct {
	// Kind is ServiceSLO, Monitor, or Cluster (an upstream of spec.rollout).
	// +kubebuilder:validation:Enum=ServiceSLO;Monitor;Cluster
	Kind string `json:"kind"`
	// Name is the ServiceSLO's name, the monitor's name or the upstream cluster's name.
	Name string `json:"name"`
	// Namespace of a ServiceSLO.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// ID of a Datadog monitor.
	// +optional
	ID int64 `json:"id,omitempty"`
	// Scope it holds back.
	Scope UpgradeScope `json:"scope"`
	// Reason of an upstream: UpstreamSoaking or UpstreamBudgetLow.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says why, for example "error budget 3.2% < 10%".
	// +optional
	Message string `json:"message,omitempty"`
}

// UpstreamStatus is where an upstream cluster of spec.rollout stands.
type UpstreamStatus struct {
	// Name of the upstream, as spec.rollout.upstreams names it.
	Name string `json:"name"`
	// Version is the upstream's version: the lowest of its control plane's and node pools'.
	// +optional
	Version string `json:"version,omitempty"`
	// Since is when the upstream's last upgrade ended (GKE's operations), or when this operator
	// first saw the version when GKE no longer lists that operation.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
	// SoakStart is when the current soak began: when the upstream took its version, or when its
	// gates held again after failing. Absent while a gate fails.
	// +optional
	SoakStart *metav1.Time `json:"soakStart,omitempty"`
	// SoakedAt is when the upstream will have soaked its version, if its gates keep holding.
	// +optional
	SoakedAt *metav1.Time `json:"soakedAt,omitempty"`
	// Soaked says this cluster may take what the upstream runs.
	Soaked bool `json:"soaked"`
	// Message says where the upstream stands, for example "runs 1.38.1-gke.1100 since
	// 2026-12-07T03:00:00Z, soaking since 2026-12-09T03:00:00Z: soaked at 2026-12-12T03:00:00Z if
	// its gates hold".
	// +optional
	Message string `json:"message,omitempty"`
}

// NodeVersion counts nodes by kubelet version.
type NodeVersion struct {
	// Version of the kubelet.
	Version string `json:"version"`
	// Nodes running it.
	Nodes int32 `json:"nodes"`
}

// ProviderStatus is the state of the sync with the provider.
type ProviderStatus struct {
	// State is Synced, Pending, Error or Invalid (the desired policy breaks a provider rule and
	// was not sent).
	// +optional
	State string `json:"state,omitempty"`
	// Message explains the state.
	// +optional
	Message string `json:"message,omitempty"`
	// LastSyncTime is when the provider's policy was last read or written successfully.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// ResourceVersion is the provider policy's version last read.
	// +optional
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// ForeignExclusions are the exclusions the cluster has that selfserve did not make (set
	// with gcloud or the console): kept as they are, and counted in GKE's limit.
	// +listType=set
	// +optional
	ForeignExclusions []string `json:"foreignExclusions,omitempty"`
}

// UpgradeDowntime is a Datadog downtime the operator scheduled for an upgrade window.
type UpgradeDowntime struct {
	// ID is the downtime's ID in Datadog.
	ID int64 `json:"id"`
	// Start and End bound it: from when the window opened (or the operator saw it open) to the
	// window's end.
	Start metav1.Time `json:"start"`
	End   metav1.Time `json:"end"`
}

// ClusterUpgradePolicyStatus is the policy's current answer and why.
type ClusterUpgradePolicyStatus struct {
	// Conditions: UpgradeAllowed (reason InsideWindow, OutsideWindow, Excluded, ErrorBudgetLow,
	// MonitorAlerting, UpstreamBudgetLow, UpstreamSoaking or Suspended), GatesEvaluated, ProviderSynced, and Ready, their summary:
	// a GKE sync that fails makes the policy not Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the operator last reached a verdict on: Ready, or Stalled with its reason (kstatus then reads Current or Failed); it stays behind while the operator is still working on a newer one.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// CurrentWindow is the window open now, if any.
	// +optional
	CurrentWindow *TimeWindow `json:"currentWindow,omitempty"`

	// NextWindow is the next window to open.
	// +optional
	NextWindow *TimeWindow `json:"nextWindow,omitempty"`

	// NextEvaluation is the next instant the operator evaluates the policy again by itself: when
	// the answer can change, when a time zone's UTC offset changes (GKE must be told), or when the
	// exclusion that holds GKE back while a gate blocks must be renewed. Monitor gates are also
	// read at every Datadog poll.
	// +optional
	NextEvaluation *metav1.Time `json:"nextEvaluation,omitempty"`

	// Downtime is the Datadog downtime that mutes the baseline monitors the tenant classes mark
	// as disrupted by upgrades (disruptedByUpgrades) while a window is open and upgrades are
	// allowed; it ends with the window. Absent outside such a window.
	// +optional
	Downtime *UpgradeDowntime `json:"downtime,omitempty"`

	// ActiveExclusions are the exclusions in force now.
	// +listType=atomic
	// +optional
	ActiveExclusions []ActiveExclusion `json:"activeExclusions,omitempty"`

	// Blockers are the gates holding upgrades back now, by name.
	// +listType=atomic
	// +optional
	Blockers []GateBlocker `json:"blockers,omitempty"`

	// ClusterVersion is the control plane version from API discovery.
	// +optional
	ClusterVersion string `json:"clusterVersion,omitempty"`

	// NodeVersions count nodes by kubelet version.
	// +listType=atomic
	// +optional
	NodeVersions []NodeVersion `json:"nodeVersions,omitempty"`

	// Provider is the state of the sync with the provider.
	// +optional
	Provider *ProviderStatus `json:"provider,omitempty"`

	// Upstreams say where each upstream cluster of spec.rollout stands.
	// +listType=map
	// +listMapKey=name
	// +optional
	Upstreams []UpstreamStatus `json:"upstreams,omitempty"`
}

// ClusterUpgradePolicy says when the cluster may be upgraded: maintenance windows in local time,
// freeze periods, and gates (low error budgets, alerting monitors) that hold upgrades back. It is
// reported in the UpgradeAllowed condition and kept in line with GKE's maintenance policy.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cup,categories=selfserve
// +kubebuilder:printcolumn:name="Allowed",type=string,JSONPath=`.status.conditions[?(@.type=="UpgradeAllowed")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="UpgradeAllowed")].reason`
// +kubebuilder:printcolumn:name="Next Window",type=string,JSONPath=`.status.nextWindow.start`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterUpgradePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the policy.
	// +required
	Spec ClusterUpgradePolicySpec `json:"spec"`

	// Status is written by the operator.
	// It reads observedGeneration 0 until the operator first evaluates the object (a schema
	// default), so that kstatus and Argo CD read a new object as in progress, not current.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status ClusterUpgradePolicyStatus `json:"status,omitempty"`
}

// ClusterUpgradePolicyList is a list of ClusterUpgradePolicies.
// +kubebuilder:object:root=true
type ClusterUpgradePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterUpgradePolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterUpgradePolicy{}, &ClusterUpgradePolicyList{})
}
