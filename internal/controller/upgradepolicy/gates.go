package upgradepolicy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
)

// reconcileGates reads the gates and the upstreams of the rollout, and sets the blockers, the
// upstreams' status and GatesEvaluated: True when every gate was read, False (GateUnavailable)
// when one could not be. A gate that cannot be read blocks nothing (a Datadog outage must not
// freeze security patches), and the condition says so; an upstream that cannot be read holds
// the rollout's scope back (see evaluateRollout).
func (r *Reconciler) reconcileGates(ctx context.Context, s *scope) (ctrl.Result, error) {
	p := s.policy
	blockers, err := r.evaluateGates(ctx, p)
	ro, roErr := r.evaluateRollout(ctx, p, s.now)
	blockers = append(blockers, ro.blockers...)
	err = errors.Join(err, roErr)
	s.blockers, p.Status.Blockers, p.Status.Upstreams, s.soaked = blockers, blockers, ro.upstreams, ro.next
	if err != nil {
		setCondition(p, platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionFalse, platformv1alpha1.ReasonGateUnavailable, err.Error())
	} else {
		setCondition(p, platformv1alpha1.ConditionGatesEvaluated, metav1.ConditionTrue, platformv1alpha1.ReasonGatesEvaluated, "every gate was read")
	}
	return ctrl.Result{}, nil
}

// evaluateGates lists what holds upgrades back now: ServiceSLOs whose remaining budget is under
// the gate's percentage, and Datadog monitors in Alert (one list call per gate).
func (r *Reconciler) evaluateGates(ctx context.Context, p *platformv1alpha1.ClusterUpgradePolicy) ([]platformv1alpha1.GateBlocker, error) {
	if p.Spec.Gates == nil {
		return nil, nil
	}
	var blockers []platformv1alpha1.GateBlocker
	var errs []error
	for i, g := range p.Spec.Gates.ErrorBudget {
		if len(g.Teams) == 0 {
			// Stored before teams were required: say so rather than read every tenant's SLOs.
			errs = append(errs, fmt.Errorf("spec.gates.errorBudget[%d].teams is empty: the gate reads no ServiceSLO until it names the teams whose SLOs may hold upgrades back", i))
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&g.Selector)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var slos platformv1alpha1.ServiceSLOList
		if err := r.Client.List(ctx, &slos, client.MatchingLabelsSelector{Selector: sel}); err != nil {
			errs = append(errs, err)
			continue
		}
		namespaces, err := r.teamNamespaces(ctx, g.Teams)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range slos.Items {
			if !namespaces[s.Namespace] {
				continue // not one of the gate's teams: a tenant cannot join a gate by labelling its SLO
			}
			for _, b := range s.Status.ErrorBudget {
				if g.Timeframe != "" && b.Timeframe != g.Timeframe || b.Remaining == "" {
					continue
				}
				remaining, err := strconv.ParseFloat(b.Remaining, 64)
				if err != nil || remaining >= float64(g.MinRemainingPercent) {
					continue
				}
				blockers = append(blockers, platformv1alpha1.GateBlocker{
					Kind: "ServiceSLO", Name: s.Name, Namespace: s.Namespace, Scope: scopeOr(g.Scope),
					Message: fmt.Sprintf("error budget %s%% (%s) is under %d%%", b.Remaining, b.Timeframe, g.MinRemainingPercent),
				})
				break
			}
		}
	}
	if len(p.Spec.Gates.Monitors) > 0 {
		switch dd, err := r.datadogForGates(ctx); {
		case err != nil:
			errs = append(errs, fmt.Errorf("monitor gates: %w", err))
		default:
			for _, g := range p.Spec.Gates.Monitors {
				monitors, err := dd.ListMonitors(ctx, g.Tags)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, m := range monitors {
					if !countsForGate(m.GetTags(), g.Teams) {
						continue
					}
					if string(m.GetOverallState()) == "Alert" {
						blockers = append(blockers, platformv1alpha1.GateBlocker{
							Kind: "Monitor", Name: m.GetName(), ID: m.GetId(), Scope: scopeOr(g.Scope),
							Message: fmt.Sprintf("monitor %d is in Alert", m.GetId()),
						})
					}
				}
			}
		}
	}
	return blockers, errors.Join(errs...)
}

// teamNamespaces returns the namespaces labelled with one of the teams: tenant namespaces
// (the operator sets the label from a Team their requester belongs to) and namespaces SREs
// labelled themselves. It asks the apiserver: the cache holds only managed namespaces.
func (r *Reconciler) teamNamespaces(ctx context.Context, teams []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(teams) == 0 {
		return out, nil
	}
	req, err := labels.NewRequirement(platformv1alpha1.LabelTeam, selection.In, teams)
	if err != nil {
		return nil, err
	}
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "NamespaceList"})
	if err := r.APIReader.List(ctx, &list, client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*req)}); err != nil {
		return nil, fmt.Errorf("listing the namespaces of teams %v: %w", teams, err)
	}
	for _, ns := range list.Items {
		out[ns.Name] = true
	}
	return out, nil
}

// countsForGate reports whether a monitor counts for a monitor gate: monitors made outside
// selfserve always do; selfserve's own (burn-rate alerts of ServiceSLOs, whose tags tenants
// choose) only when their team is one of the gate's.
func countsForGate(tags []string, teams []string) bool {
	if !slices.ContainsFunc(tags, func(t string) bool { return strings.EqualFold(t, datadog.TagManaged) }) {
		return true
	}
	for _, t := range tags {
		if team, ok := strings.CutPrefix(strings.ToLower(t), "team:"); ok && slices.Contains(teams, team) {
			return true
		}
	}
	return false
}

func scopeOr(s platformv1alpha1.UpgradeScope) platformv1alpha1.UpgradeScope {
	if s == "" {
		return platformv1alpha1.ScopeNoMinorOrNodeUpgrades
	}
	return s
}
