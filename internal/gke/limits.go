package gke

import (
	"fmt"
	"time"

	container "google.golang.org/api/container/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/schedule"
)

// GKE's limits on a maintenance policy, which it enforces when the policy is set. They are
// checked here, once, for the admission webhook (so a policy GKE would refuse is refused at
// kubectl apply) and for the controller (which never sends such a policy).
const (
	// MaxExclusions is how many maintenance exclusions GKE keeps on a cluster; the exclusion
	// the controller adds while a gate blocks counts too.
	MaxExclusions = 20
	// maxNoUpgrades is the longest a NoUpgrades exclusion may last.
	maxNoUpgrades = 30 * 24 * time.Hour
	// maxNarrowScope is the longest a NoMinorUpgrades or NoMinorOrNodeUpgrades exclusion may
	// last. GKE also ends them at the end of support of the cluster's minor version, which only
	// GKE knows; an exclusion past that is refused by GKE and reported as a failed sync.
	maxNarrowScope = 180 * 24 * time.Hour
)

// MaxExclusionLength is the longest exclusion of the scope GKE accepts.
func MaxExclusionLength(s schedule.Scope) time.Duration {
	if s == schedule.NoUpgrades {
		return maxNoUpgrades
	}
	return maxNarrowScope
}

// Refusals lists what GKE would refuse in the policy's maintenance policy at now, each with the
// field to change: a window GKE's single recurring window cannot express, an exclusion longer
// than its scope allows, more exclusions than GKE keeps, or too little availability left in
// some 32 days. Exclusions that have ended are not sent and are not checked. A policy without a
// GKE provider is not checked.
func Refusals(spec platformv1alpha1.ClusterUpgradePolicySpec, now time.Time) field.ErrorList {
	if spec.Provider == nil || spec.Provider.GKE == nil {
		return nil
	}
	windows, exclusions, err := schedule.FromSpec(spec)
	if err != nil {
		// The schema rules (zones, rules) are the webhook's and the apiserver's to report.
		return field.ErrorList{field.Forbidden(field.NewPath("spec", "maintenanceWindows"), err.Error())}
	}
	_, errs := Translate(windows, exclusions, MayHold(spec), now)
	return errs
}

// MayHold reports whether the policy may add its hold exclusion (GateExclusionName): it has
// gates or a rollout that can block, or it is suspended.
func MayHold(spec platformv1alpha1.ClusterUpgradePolicySpec) bool {
	return spec.Gates != nil || spec.Rollout != nil || spec.Suspend
}

// Translate is the recurring window GKE is sent for the windows at now, with what GKE would
// refuse in the policy (Refusals): the controller sends the window only when the list is
// empty, so the policy is read, checked and translated once. held says a gate or a suspension
// may add its own exclusion.
func Translate(windows []schedule.Window, exclusions []schedule.Exclusion, held bool, now time.Time) (*container.RecurringTimeWindow, field.ErrorList) {
	windowsPath, exclusionsPath := field.NewPath("spec", "maintenanceWindows"), field.NewPath("spec", "exclusions")
	var errs field.ErrorList
	window, err := DesiredWindow(windows, now)
	if err != nil {
		errs = append(errs, field.Forbidden(windowsPath, err.Error()))
	}
	sent := 0
	for i, e := range exclusions {
		if !e.End.After(now) {
			continue
		}
		sent++
		if limit := MaxExclusionLength(e.Scope); e.End.Sub(e.Start) > limit {
			errs = append(errs, field.Invalid(exclusionsPath.Index(i).Child("end"), e.End.UTC().Format(time.RFC3339),
				fmt.Sprintf("a %s exclusion may last at most %d days on GKE; this one lasts %s", e.Scope, limit/(24*time.Hour), inDays(e.End.Sub(e.Start)))))
		}
	}
	allowed, why := MaxExclusions, ""
	if held {
		allowed-- // the one that holds upgrades back while a gate blocks
		why = ", one of them kept for the exclusion that holds upgrades back while a gate blocks or the policy is suspended"
	}
	if sent > allowed {
		errs = append(errs, field.Forbidden(exclusionsPath, fmt.Sprintf("GKE keeps at most %d exclusions on a cluster%s; %d exclusions here have not ended, at most %d may",
			MaxExclusions, why, sent, allowed)))
	}
	// GKE checks the window it is sent; one that cannot be sent is refused above already. With
	// the exclusions first: when that passes, the window alone passes too. Only a failure is
	// checked again without them, to name the field to change.
	if window != nil {
		if err := CheckAvailability(window, exclusions, now); err != nil {
			if alone := CheckAvailability(window, nil, now); alone != nil {
				errs = append(errs, field.Forbidden(windowsPath, alone.Error()))
			} else {
				errs = append(errs, field.Forbidden(exclusionsPath, err.Error()+" once the NoUpgrades exclusions are taken out"))
			}
		}
	}
	return window, errs
}

// inDays writes a duration in days and hours ("31d", "30d12h").
func inDays(d time.Duration) string {
	n, rest := d/(24*time.Hour), d%(24*time.Hour)
	if rest == 0 {
		return fmt.Sprintf("%dd", n)
	}
	return fmt.Sprintf("%dd%s", n, rest.Round(time.Minute))
}
