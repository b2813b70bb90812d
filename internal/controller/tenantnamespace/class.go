package tenantnamespace

import (
	"context"
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
//   - Beyond, but no more than a platform admin's approval grants: all of it. An approval names
//     a spec by its hash; the first reconcile after it records what it grants by value
//     (status.approval.grants), so later edits and CRD upgrades that change the hash keep it.
//   - Beyond, but no more than its namespace already holds (granted earlier: within the class
//     before it was tightened, or approved): all of it. Nothing is taken away (running
//     workloads are not starved); WithinClass=False says what no longer fits.
//   - Beyond what it holds (quota, container limits or a role binding the class does not
//     allow, which admission lets through for approval): what the class allows or what it
//     holds, whichever is more, and ApprovalRequired=True until an admin approves; a rejection
//     keeps it so.
//
// What it holds is read from the objects the operator applied (tenancy.Holding), never from the
// tenant's status, which a status writer could set. What admission always refuses (Pod
// Security, isolation, broad subjects, prefixes) can only be here after a class tightening; it
// is kept and reported, as before.
func (r *Reconciler) reconcileClassFit(ctx context.Context, s *scope) (wait bool, err error) {
	t := s.tenant
	approvable, refused := tenancy.SplitApprovable(tenancy.CheckClass(t, s.class))
	hash := tenancy.SpecHash(t)
	s.specHash = hash
	decision := tenancy.DecisionOn(t, hash)
	if a := t.Status.Approval; decision == platformv1alpha1.DecisionApproved && (a.Grants == nil || a.Grants.SpecHash != hash) {
		// The admin approved this very spec (the approval webhook checked its hash): record what
		// it grants by value, so that the approval outlives the hash.
		a.Grants = tenancy.GrantsFor(approvable, hash)
	}
	var unheld, granted, held field.ErrorList
	if len(approvable) > 0 {
		if unheld, granted, held, s.holding, err = tenancy.Kept(ctx, t, approvable, func(ctx context.Context) (tenancy.Holding, error) {
			return r.readHolding(ctx, t)
		}); err != nil {
			return false, err
		}
	}

	prev := s.condition(platformv1alpha1.ConditionApprovalRequired)
	set := func(status metav1.ConditionStatus, reason, msg string) {
		s.setCondition(platformv1alpha1.ConditionApprovalRequired, status, reason, msg)
		if prev == nil || prev.Reason != reason || status == metav1.ConditionTrue && prev.Message != msg {
			if ev := approvalEvent(reason); ev != "" {
				r.eventf(t, ev, reason, "Review", "%s", msg)
			}
		}
	}
	switch {
	case len(approvable) == 0:
		t.Status.PendingApproval = nil
		set(metav1.ConditionFalse, tenancy.ReasonApprovalNotNeeded, "the spec is within class "+s.class.Name)
	case len(unheld) == 0 && len(granted) > 0:
		t.Status.PendingApproval = nil
		a := t.Status.Approval
		set(metav1.ConditionFalse, tenancy.ReasonApproved, fmt.Sprintf("approved by %s beyond class %s: %s%s", a.By, s.class.Name, joined(granted), because(a.Reason)))
	case len(unheld) == 0:
		t.Status.PendingApproval = nil
		set(metav1.ConditionFalse, tenancy.ReasonApprovalNotNeeded, "the namespace already holds what goes beyond class "+s.class.Name+"; WithinClass says what no longer fits")
	default:
		needs := make([]string, len(unheld))
		for i, e := range unheld {
			needs[i] = e.Error()
		}
		t.Status.PendingApproval = &platformv1alpha1.PendingApproval{SpecHash: hash, Needs: needs}
		reason, msg := tenancy.ReasonAwaitingApproval, fmt.Sprintf("waiting for a platform admin to approve, beyond class %s: %s; meanwhile the tenant has what the class allows, or what it holds already", s.class.Name, joined(unheld))
		if decision == platformv1alpha1.DecisionRejected {
			a := t.Status.Approval
			reason, msg = tenancy.ReasonRejected, fmt.Sprintf("rejected by %s%s, beyond class %s: %s; the tenant has what the class allows, or what it holds already, until its spec changes", a.By, because(a.Reason), s.class.Name, joined(unheld))
		}
		set(metav1.ConditionTrue, reason, msg)
		s.Settings = tenancy.CappedToClass(s.Settings, s.class, s.holding)
		s.capped = true
		t.Status.ProvisionedSpec = "" // part of the spec waits: none of it is in effect in full
		provisioned, err := tenancy.HoldsNamespace(ctx, r.Client, t)
		if err != nil {
			return false, err
		}
		if !provisioned {
			return true, nil
		}
	}
	reportClassConflicts(s, append(held, refused...))
	return false, nil
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
