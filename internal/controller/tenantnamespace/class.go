package tenantnamespace

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
)

// Reasons of the WithinClass condition.
const (
	ReasonWithinClass    = "WithinClass"
	ReasonClassTightened = "ClassTightened"
)

// reconcileClassFit decides what the tenant gets of what it asks beyond its class, and sets
// WithinClass and ApprovalRequired. It reports wait when the tenant is new and waits for
// approval: nothing is created until an admin decides.
//
//   - Within the class: all of it.
//   - Beyond, approved by a platform admin for this very spec: all of it.
//   - Beyond, and the spec has not changed since it was provisioned in full: the class was
//     tightened under it. Nothing is taken away (running workloads are not starved);
//     WithinClass=False says what no longer fits.
//   - Beyond otherwise (quota, container limits or a role binding the class does not allow,
//     which admission lets through for approval): what the class allows, and
//     ApprovalRequired=True until an admin approves; a rejection keeps it so.
//
// What admission always refuses (Pod Security, isolation, broad subjects, prefixes) can only be
// here after a class tightening; it is kept and reported, as before.
func (r *Reconciler) reconcileClassFit(s *scope) (wait bool) {
	t := s.tenant
	approvable, refused := tenancy.SplitApprovable(tenancy.CheckClass(t, s.class))
	hash := tenancy.SpecHash(t)
	s.specHash = hash
	decision := tenancy.DecisionOn(t, hash)
	provisionedAsIs := t.Status.ProvisionedSpec == hash ||
		// Provisioned before the operator recorded the hash: unchanged since the last success.
		t.Status.ProvisionedSpec == "" && t.Status.ObservedGeneration > 0 && t.Status.ObservedGeneration == t.Generation

	prev := s.condition(platformv1alpha1.ConditionApprovalRequired)
	set := func(status metav1.ConditionStatus, reason, msg string) {
		s.setCondition(platformv1alpha1.ConditionApprovalRequired, status, reason, msg)
		if prev == nil || prev.Reason != reason || status == metav1.ConditionTrue && prev.Message != msg {
			if ev := approvalEvent(reason); ev != "" {
				r.Recorder.Eventf(t, nil, ev, reason, "Review", "%s", msg)
			}
		}
	}
	switch {
	case len(approvable) == 0:
		t.Status.PendingApproval = nil
		set(metav1.ConditionFalse, tenancy.ReasonApprovalNotNeeded, "the spec is within class "+s.class.Name)
	case decision == platformv1alpha1.DecisionApproved:
		t.Status.PendingApproval = nil
		a := t.Status.Approval
		set(metav1.ConditionFalse, tenancy.ReasonApproved, fmt.Sprintf("approved by %s beyond class %s: %s%s", a.By, s.class.Name, joined(approvable), because(a.Reason)))
		approvable = nil // held with approval: not a conflict
	case provisionedAsIs:
		t.Status.PendingApproval = nil
		set(metav1.ConditionFalse, tenancy.ReasonApprovalNotNeeded, "provisioned before class "+s.class.Name+" was tightened; WithinClass says what no longer fits")
	default:
		needs := make([]string, len(approvable))
		for i, e := range approvable {
			needs[i] = e.Error()
		}
		t.Status.PendingApproval = &platformv1alpha1.PendingApproval{SpecHash: hash, Needs: needs}
		reason, msg := tenancy.ReasonAwaitingApproval, fmt.Sprintf("waiting for a platform admin to approve, beyond class %s: %s; meanwhile the tenant has what the class allows", s.class.Name, joined(approvable))
		if decision == platformv1alpha1.DecisionRejected {
			a := t.Status.Approval
			reason, msg = tenancy.ReasonRejected, fmt.Sprintf("rejected by %s%s, beyond class %s: %s; the tenant has what the class allows until its spec changes", a.By, because(a.Reason), s.class.Name, joined(approvable))
		}
		set(metav1.ConditionTrue, reason, msg)
		s.Settings = tenancy.CappedToClass(s.Settings, s.class)
		s.capped = true
		approvable = nil // not held: capped
		if t.Status.ProvisionedSpec == "" && t.Status.ObservedGeneration == 0 {
			return true
		}
	}
	reportClassConflicts(s, append(approvable, refused...))
	return false
}

// approvalEvent is the type of the Event that says a decision or a request, empty for none.
func approvalEvent(reason string) string {
	switch reason {
	case tenancy.ReasonAwaitingApproval, tenancy.ReasonRejected:
		return corev1.EventTypeWarning
	case tenancy.ReasonApproved:
		return corev1.EventTypeNormal
	}
	return ""
}

func joined(errs field.ErrorList) string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return strings.Join(out, "; ")
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

// reportClassConflicts sets WithinClass from what the tenant holds beyond its class: nothing
// normally; after a class was tightened, what no longer fits. Nothing is taken away: the tenant
// keeps its quota, level and bindings, and the condition says what no longer fits so its owners
// can adjust.
func reportClassConflicts(s *scope, errs field.ErrorList) {
	if len(errs) == 0 {
		s.setCondition(platformv1alpha1.ConditionWithinClass, metav1.ConditionTrue, ReasonWithinClass, "the tenant is within class "+s.class.Name)
		return
	}
	s.setCondition(platformv1alpha1.ConditionWithinClass, metav1.ConditionFalse, ReasonClassTightened,
		fmt.Sprintf("class %s no longer allows: %s; the tenant keeps what it has until its spec is changed", s.class.Name, joined(errs)))
}
