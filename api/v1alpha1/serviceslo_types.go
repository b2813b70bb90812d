package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of a ServiceSLO.
const (
	// ConditionSynced is True when Datadog holds what the spec describes.
	ConditionSynced = "Synced"
)

// ServiceSLOSpec describes a service level objective and its burn-rate alerts.
// +kubebuilder:validation:XValidation:rule="!has(self.alerting) || !has(self.alerting.timeframe) || self.objectives.exists(o, o.timeframe == self.alerting.timeframe)",message="alerting.timeframe must be the timeframe of one of the objectives",fieldPath=".alerting.timeframe"
// +kubebuilder:validation:XValidation:rule="!has(self.alerting) || !has(self.alerting.tiers) || self.objectives.exists(o, o.timeframe == (has(self.alerting.timeframe) ? self.alerting.timeframe : self.objectives[0].timeframe) && self.alerting.tiers.all(t, double(t.burnRate) <= 100.0 / (100.0 - double(o.target))))",message="a burn rate above 1/(1-target) would exhaust the whole error budget before the window ends; lower it or raise the target",fieldPath=".alerting.tiers"
type ServiceSLOSpec struct {
	// Service is the name of the service the SLO is about. It becomes the service: tag in Datadog.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$`
	// +required
	Service string `json:"service"`

	// Description is shown on the SLO in Datadog.
	// +kubebuilder:validation:MaxLength=1000
	// +optional
	Description string `json:"description,omitempty"`

	// Indicator is how good and bad events are measured: exactly one of metric, timeSlice or
	// monitors.
	// +required
	Indicator Indicator `json:"indicator"`

	// Objectives are the targets, one per timeframe (7d, 30d, 90d).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=3
	// +listType=map
	// +listMapKey=timeframe
	// +required
	Objectives []Objective `json:"objectives"`

	// Alerting configures the multi-window burn-rate monitors generated for the SLO.
	// +optional
	Alerting *Alerting `json:"alerting,omitempty"`

	// Tags are extra Datadog tags (key:value) for the SLO and its monitors. team:, service:,
	// cluster:, managed-by: and selfserve- are set by the operator, in any letter case (Datadog
	// lowercases tags).
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=200
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z][a-zA-Z0-9_\-./:]*$`
	// +kubebuilder:validation:XValidation:rule="self.all(t, !t.lowerAscii().startsWith('team:') && !t.lowerAscii().startsWith('service:') && !t.lowerAscii().startsWith('cluster:') && !t.lowerAscii().startsWith('managed-by:') && !t.lowerAscii().startsWith('selfserve-'))",message="team:, service:, cluster:, managed-by: and selfserve- tags are set by the operator"
	// +listType=set
	// +optional
	Tags []string `json:"tags,omitempty"`

	// DeletionPolicy says what happens in Datadog when the ServiceSLO is deleted: Delete (the
	// default) removes the monitors and the SLO, Orphan leaves them.
	// +kubebuilder:validation:Enum=Delete;Orphan
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// Indicator is the service level indicator. Exactly one field is set.
// +kubebuilder:validation:XValidation:rule="[has(self.metric), has(self.timeSlice), has(self.monitors)].filter(x, x).size() == 1",message="set exactly one of metric, timeSlice or monitors"
type Indicator struct {
	// Metric counts good and total events with two Datadog metric queries.
	// +optional
	Metric *MetricIndicator `json:"metric,omitempty"`

	// TimeSlice counts the share of time slices in which a query meets a threshold.
	// +optional
	TimeSlice *TimeSliceIndicator `json:"timeSlice,omitempty"`

	// Monitors uses the uptime of existing Datadog monitors.
	// +optional
	Monitors *MonitorsIndicator `json:"monitors,omitempty"`
}

// MetricIndicator is a ratio of good events to all events.
type MetricIndicator struct {
	// Good is the Datadog query counting good events, for example
	// sum:trace.http.request.hits{service:checkout,!http.status_class:5xx}.as_count()
	// Its parentheses, braces, brackets and quotes must pair up (checked when applied).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2000
	// +kubebuilder:validation:XValidation:rule="self.matches('[^[:space:]]')",message="must not be blank: Datadog refuses a blank query"
	// +required
	Good string `json:"good"`

	// Total is the Datadog query counting all events, for example
	// sum:trace.http.request.hits{service:checkout}.as_count()
	// Its parentheses, braces, brackets and quotes must pair up (checked when applied).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2000
	// +kubebuilder:validation:XValidation:rule="self.matches('[^[:space:]]')",message="must not be blank: Datadog refuses a blank query"
	// +required
	Total string `json:"total"`
}

// TimeSliceIndicator counts time slices in which a query meets a threshold as good.
type TimeSliceIndicator struct {
	// Query is the Datadog metric query evaluated for each slice, for example
	// p95:trace.http.request{service:checkout}
	// Its parentheses, braces, brackets and quotes must pair up (checked when applied).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2000
	// +kubebuilder:validation:XValidation:rule="self.matches('[^[:space:]]')",message="must not be blank: Datadog refuses a blank query"
	// +required
	Query string `json:"query"`

	// Comparator compares the query's value with the threshold: a slice is good when
	// "value <comparator> threshold" holds.
	// +kubebuilder:validation:Enum=">";">=";"<";"<="
	// +required
	Comparator string `json:"comparator"`

	// Threshold is the value a slice is compared with, a decimal number as a string.
	// +kubebuilder:validation:Pattern=`^-?[0-9]+(\.[0-9]+)?$`
	// +required
	Threshold string `json:"threshold"`

	// Interval is the length of one time slice.
	// +kubebuilder:validation:Enum="1m";"5m"
	// +kubebuilder:default="5m"
	// +optional
	Interval string `json:"interval,omitempty"`
}

// MonitorsIndicator builds the SLO from existing Datadog monitors' uptime.
type MonitorsIndicator struct {
	// IDs are the Datadog monitor IDs.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:Minimum=1
	// +listType=set
	// +required
	IDs []int64 `json:"ids"`
}

// Timeframe is the rolling period of an objective.
// +kubebuilder:validation:Enum="7d";"30d";"90d"
type Timeframe string

// Objective is a target for one timeframe. Decimals are strings so they round-trip exactly.
// +kubebuilder:validation:XValidation:rule="!has(self.warning) || double(self.warning) > double(self.target)",message="warning must be greater than target",fieldPath=".warning"
type Objective struct {
	// Timeframe is the rolling period: 7d, 30d or 90d.
	// +required
	Timeframe Timeframe `json:"timeframe"`

	// Target is the percentage of good events to reach, above 0 and below 100, for example
	// "99.9".
	// +kubebuilder:validation:Pattern=`^[0-9]{1,2}(\.[0-9]{1,4})?$`
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0",message="target must be above 0"
	// +required
	Target string `json:"target"`

	// Warning is an optional, stricter percentage that turns the SLO yellow in Datadog; it must
	// be greater than target.
	// +kubebuilder:validation:Pattern=`^[0-9]{1,2}(\.[0-9]{1,4})?$`
	// +optional
	Warning *string `json:"warning,omitempty"`
}

// Alerting configures the generated burn-rate monitors.
type Alerting struct {
	// Timeframe is the objective the burn rate is measured against. Defaults to the first
	// objective's timeframe.
	// +optional
	Timeframe Timeframe `json:"timeframe,omitempty"`

	// Tiers are the burn-rate alerts, one monitor each. Left out, Datadog's recommended tiers for
	// the timeframe are used (for 30d: 14.4x over 1h/5m and 6x over 6h/30m page, 3x over 24h/2h
	// opens a ticket).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=6
	// +listType=atomic
	// +optional
	Tiers []BurnRateTier `json:"tiers,omitempty"`

	// Notify are the Datadog notification handles added to every monitor's message, for example
	// "@pagerduty-checkout" or "@slack-team-checkout".
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:Pattern=`^@[^\s]+$`
	// +listType=set
	// +optional
	Notify []string `json:"notify,omitempty"`

	// Priority is the Datadog monitor priority of page tiers, 1 (highest) to 5. Ticket tiers get
	// one level lower.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	// +optional
	Priority *int32 `json:"priority,omitempty"`

	// RenotifyInterval re-sends an alert that is still firing after this long, for example "2h".
	// Left out, an alert notifies once.
	// +kubebuilder:validation:Pattern=`^[1-9][0-9]*(m|h)$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10m') && duration(self) <= duration('24h')",message="renotifyInterval must be between 10m and 24h"
	// +optional
	RenotifyInterval string `json:"renotifyInterval,omitempty"`
}

// BurnRateTier is one multi-window burn-rate alert: it fires when the error budget burns faster
// than burnRate over both the long and the short window.
// +kubebuilder:validation:XValidation:rule="duration(self.shortWindow) < duration(self.longWindow)",message="shortWindow must be shorter than longWindow",fieldPath=".shortWindow"
type BurnRateTier struct {
	// LongWindow is the window that makes the alert significant, 1h to 48h, for example "1h".
	// +kubebuilder:validation:Pattern=`^[1-9][0-9]*(m|h)$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('48h')",message="longWindow must be between 1h and 48h"
	// +required
	LongWindow string `json:"longWindow"`

	// ShortWindow makes the alert reset quickly once the burn stops, usually 1/12 of the long
	// window, for example "5m".
	// +kubebuilder:validation:Pattern=`^[1-9][0-9]*(m|h)$`
	// +required
	ShortWindow string `json:"shortWindow"`

	// BurnRate is how many times faster than sustainable the budget burns, as a decimal string,
	// for example "14.4". It may not exceed 1/(1-target).
	// +kubebuilder:validation:Pattern=`^[0-9]{1,4}(\.[0-9]{1,3})?$`
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0",message="burnRate must be above 0"
	// +required
	BurnRate string `json:"burnRate"`

	// Severity is page (someone is woken up) or ticket (handled in working hours).
	// +kubebuilder:validation:Enum=page;ticket
	// +kubebuilder:default=page
	// +optional
	Severity string `json:"severity,omitempty"`
}

// ErrorBudget is the error budget of one objective as Datadog last reported it.
type ErrorBudget struct {
	// Timeframe of the objective.
	Timeframe Timeframe `json:"timeframe"`
	// Remaining is the percentage of the error budget left, for example "62.5"; negative when the
	// budget is exhausted.
	// +optional
	Remaining string `json:"remaining,omitempty"`
	// SLI is the measured service level, in percent.
	// +optional
	SLI string `json:"sli,omitempty"`
	// State is Datadog's status of the objective: ok, warning, breached or no_data.
	// +optional
	State string `json:"state,omitempty"`
}

// MonitorRef is a generated burn-rate monitor in Datadog.
type MonitorRef struct {
	// Tier names the tier, "<burnRate>x-<longWindow>-<shortWindow>".
	Tier string `json:"tier"`
	// ID is the Datadog monitor ID.
	ID int64 `json:"id"`
}

// UnknownCreate is a create sent to Datadog whose outcome is unknown (no answer, a 5xx, a
// time-out): Datadog may have stored the object, or may store it later. It is neither sent
// again nor forgotten until a look-up made after the settle window (the client time-out plus
// --datadog-settle-window after SentAt) finds nothing; the ServiceSLO is not released before.
type UnknownCreate struct {
	// Object is "slo" for the SLO, or the tier of a burn-rate monitor.
	Object string `json:"object"`
	// SentAt is when the create was sent.
	SentAt metav1.Time `json:"sentAt"`
}

// ServiceSLOStatus is what the operator observed in Datadog.
type ServiceSLOStatus struct {
	// Conditions: Synced and the summary Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the operator last reached a verdict on: Ready, or Stalled with its reason (kstatus then reads Current or Failed); it stays behind while the operator is still working on a newer one.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// SLOID is the Datadog SLO ID.
	// +optional
	SLOID string `json:"sloID,omitempty"`

	// Monitors are the generated burn-rate monitors.
	// +listType=map
	// +listMapKey=tier
	// +optional
	Monitors []MonitorRef `json:"monitors,omitempty"`

	// UnknownCreates are the creates whose outcome is not known yet.
	// +listType=map
	// +listMapKey=object
	// +optional
	UnknownCreates []UnknownCreate `json:"unknownCreates,omitempty"`

	// ErrorBudget is the remaining error budget per objective, as Datadog last reported it;
	// empty (not absent) until Datadog has answered.
	// +listType=map
	// +listMapKey=timeframe
	// +optional
	ErrorBudget []ErrorBudget `json:"errorBudget"`

	// Objectives summarises the objectives for kubectl's OBJECTIVES column, for example
	// "99.9% over 30d, 99% over 7d".
	// +optional
	Objectives string `json:"objectives,omitempty"`

	// Budget is the lowest error budget left among the objectives, with its timeframe, for
	// kubectl's BUDGET column, for example "42.10% (7d)"; "unknown" until Datadog has answered.
	// +optional
	Budget string `json:"budget,omitempty"`

	// BudgetState is the worst of Datadog's states of the objectives (breached, warning,
	// no_data, ok), or unknown until Datadog has answered.
	// +kubebuilder:validation:Enum=unknown;ok;warning;breached;no_data
	// +optional
	BudgetState string `json:"budgetState,omitempty"`

	// LastSyncTime is when Datadog was last read successfully.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// ServiceSLO is a service level objective for a service, with burn-rate alerts, kept in Datadog.
// The error budget is reported back in status.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=slo,categories=selfserve
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service`
// +kubebuilder:printcolumn:name="Objectives",type=string,JSONPath=`.status.objectives`
// +kubebuilder:printcolumn:name="Budget",type=string,JSONPath=`.status.budget`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceSLO struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the objective.
	// +required
	Spec ServiceSLOSpec `json:"spec"`

	// Status is written by the operator.
	// It reads observedGeneration 0 until the operator first evaluates the object (a schema
	// default), so that kstatus and Argo CD read a new object as in progress, not current.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status ServiceSLOStatus `json:"status,omitempty"`
}

// ServiceSLOList is a list of ServiceSLOs.
// +kubebuilder:object:root=true
type ServiceSLOList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceSLO `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ServiceSLO{}, &ServiceSLOList{})
}
