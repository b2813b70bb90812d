package upgradepolicy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/gke"
)

// rollout is one evaluation of spec.rollout: where each upstream stands, what holds this
// cluster back, and when a soak ends.
type rollout struct {
	upstreams []platformv1alpha1.UpstreamStatus
	blockers  []platformv1alpha1.GateBlocker
	// next is the earliest end of a soak still running.
	next time.Time
}

// evaluateRollout reads each upstream of spec.rollout from GKE (its versions, when its last
// upgrade ended) and, for an upstream ahead of this cluster, its gates from Datadog. This
// cluster may take what an upstream runs once the upstream has run a newer version (a newer
// minor for the NoMinorUpgrades scope) for the soak time, its gates holding throughout; a gate
// that fails restarts the soak. Everything else is a blocker of the rollout's scope. Fail
// closed: an upstream or a gate that cannot be read holds this cluster back, and the error
// says why.
func (r *Reconciler) evaluateRollout(ctx context.Context, p *platformv1alpha1.ClusterUpgradePolicy, now time.Time) (rollout, error) {
	ro := p.Spec.Rollout
	var out rollout
	if ro == nil {
		return out, nil
	}
	soak, err := time.ParseDuration(ro.SoakTime)
	if err != nil {
		return out, fmt.Errorf("spec.rollout.soakTime: %w", err) // the schema admits only durations
	}
	scope := cmp.Or(ro.Scope, platformv1alpha1.ScopeNoMinorUpgrades)
	prev := map[string]platformv1alpha1.UpstreamStatus{}
	for _, u := range p.Status.Upstreams {
		prev[u.Name] = u
	}
	var errs []error
	for _, u := range ro.Upstreams {
		st, why, err := r.evaluateUpstream(ctx, p, u, prev[u.Name], soak, scope, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", u.Name, err))
		}
		out.upstreams = append(out.upstreams, st)
		if why != "" {
			out.blockers = append(out.blockers, platformv1alpha1.GateBlocker{Kind: "Cluster", Name: u.Name, Scope: scope, Reason: why, Message: st.Message})
		}
		if !st.Soaked && st.SoakedAt != nil && st.SoakedAt.After(now) && (out.next.IsZero() || st.SoakedAt.Time.Before(out.next)) {
			out.next = st.SoakedAt.Time
		}
	}
	return out, errors.Join(errs...)
}

// evaluateUpstream says where one upstream stands and, when it holds this cluster back, the
// reason (UpstreamSoaking or UpstreamBudgetLow).
func (r *Reconciler) evaluateUpstream(ctx context.Context, p *platformv1alpha1.ClusterUpgradePolicy, u platformv1alpha1.Upstream, prev platformv1alpha1.UpstreamStatus, soak time.Duration, scope platformv1alpha1.UpgradeScope, now time.Time) (platformv1alpha1.UpstreamStatus, string, error) {
	// What is known of the upstream is kept until it is read again (soaked is said afresh).
	st := platformv1alpha1.UpstreamStatus{Name: u.Name, Version: prev.Version, Since: prev.Since, SoakStart: prev.SoakStart, SoakedAt: prev.SoakedAt}
	v, err := r.upstreamVersions(ctx, u)
	if err != nil {
		st.Message = fmt.Sprintf("its versions cannot be read from GKE (%v): held back until they can", err)
		return st, platformv1alpha1.ReasonUpstreamSoaking, err
	}
	if v.Lowest != prev.Version {
		st.Version, st.Since = v.Lowest, nil
	}
	switch {
	case !v.Since.IsZero():
		st.Since = &metav1.Time{Time: v.Since}
	case st.Since == nil:
		// GKE no longer lists the upgrade: the soak counts from now, never from a guess.
		st.Since = &metav1.Time{Time: now}
	}
	if v.Lowest != prev.Version || st.SoakStart != nil && st.SoakStart.Before(st.Since) {
		// A new version, or a later upgrade of the same one (a node pool): the soak starts with it.
		st.SoakStart = st.Since.DeepCopy()
	}
	since := st.Since.UTC().Format(time.RFC3339)
	own := p.Status.ClusterVersion
	unit, ahead := "version", gke.CompareVersions(v.Lowest, own) > 0
	if scope == platformv1alpha1.ScopeNoMinorUpgrades {
		unit, ahead = "minor", gke.CompareMinors(v.Lowest, own) > 0
	}
	runs := fmt.Sprintf("runs %s", v.Lowest)
	if v.Lowest != v.Master {
		runs += fmt.Sprintf(" (control plane %s)", v.Master)
	}
	if own == "" || !ahead {
		st.SoakedAt = nil
		st.Message = fmt.Sprintf("%s since %s, not a newer %s than this cluster's %s: %s wait until it runs one for %s", runs, since, unit, cmp.Or(own, "(unknown)"), waits(scope), soak)
		return st, platformv1alpha1.ReasonUpstreamSoaking, nil
	}
	failures, err := r.upstreamGateFailures(ctx, p.Spec.Rollout.Gates, u.Name)
	switch {
	case len(failures) > 0:
		// No soak while a gate fails; it starts again when they all hold.
		st.SoakStart, st.SoakedAt = nil, nil
		st.Message = fmt.Sprintf("%s since %s; its gates fail (%s): the soak starts again once they hold", runs, since, strings.Join(failures, "; "))
		return st, platformv1alpha1.ReasonUpstreamBudgetLow, err
	case err != nil:
		st.Message = fmt.Sprintf("%s since %s; its gates cannot be read (%v): held back until they can", runs, since, err)
		return st, platformv1alpha1.ReasonUpstreamSoaking, err
	case st.SoakStart == nil:
		st.SoakStart = &metav1.Time{Time: now}
	}
	st.SoakedAt = &metav1.Time{Time: st.SoakStart.Add(soak)}
	at := st.SoakedAt.UTC().Format(time.RFC3339)
	if now.Before(st.SoakedAt.Time) {
		st.Message = fmt.Sprintf("%s since %s, soaking since %s: soaked at %s if its gates hold", runs, since, st.SoakStart.UTC().Format(time.RFC3339), at)
		return st, platformv1alpha1.ReasonUpstreamSoaking, nil
	}
	st.Soaked = true
	st.Message = fmt.Sprintf("%s since %s, soaked at %s with its gates holding: this cluster may follow", runs, since, at)
	return st, "", nil
}

func waits(scope platformv1alpha1.UpgradeScope) string {
	if scope == platformv1alpha1.ScopeNoUpgrades {
		return "upgrades"
	}
	return "minor upgrades"
}

// upstreamVersions reads an upstream's versions from GKE, bounded like a sync.
func (r *Reconciler) upstreamVersions(ctx context.Context, u platformv1alpha1.Upstream) (gke.Versions, error) {
	if r.GKE == nil {
		return gke.Versions{}, errors.New("no GKE client configured")
	}
	c, err := r.GKE(ctx)
	if err != nil {
		return gke.Versions{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(r.GKETimeout, 30*time.Second))
	defer cancel()
	return c.Versions(ctx, gke.ClusterName(u.GKE.Project, u.GKE.Location, u.GKE.Cluster))
}

// upstreamGateFailures reads the rollout's gates for one upstream in Datadog, among the SLOs
// and monitors tagged cluster:<upstream>, and says which fail.
func (r *Reconciler) upstreamGateFailures(ctx context.Context, g *platformv1alpha1.UpstreamGates, upstream string) ([]string, error) {
	if g == nil || len(g.ErrorBudget)+len(g.Monitors) == 0 {
		return nil, nil
	}
	dd, err := r.datadogForGates(ctx)
	if err != nil {
		return nil, err
	}
	clusterTag := datadog.TagClusterNamePrefix + upstream
	var failures []string
	var errs []error
	for _, gate := range g.ErrorBudget {
		query := strings.Join(append([]string{clusterTag, datadog.TagManaged}, gate.Tags...), " AND ")
		slos, err := dd.SearchSLOs(ctx, query)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range slos {
			// The search matches loosely; the tags that make an SLO count are checked here.
			if !slices.Contains(s.Tags, clusterTag) || !ofTeams(s.Tags, gate.Teams) || !hasAll(s.Tags, gate.Tags) {
				continue
			}
			for _, b := range s.Status {
				if gate.Timeframe != "" && b.Timeframe != string(gate.Timeframe) || b.BudgetRemaining == nil {
					continue
				}
				if *b.BudgetRemaining < float64(gate.MinRemainingPercent) {
					failures = append(failures, fmt.Sprintf("SLO %q: error budget %.1f%% (%s) is under %d%%", s.Name, *b.BudgetRemaining, b.Timeframe, gate.MinRemainingPercent))
					break
				}
			}
		}
	}
	for _, gate := range g.Monitors {
		monitors, err := dd.ListMonitors(ctx, append([]string{clusterTag}, gate.Tags...))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range monitors {
			if countsForGate(m.GetTags(), gate.Teams) && string(m.GetOverallState()) == "Alert" {
				failures = append(failures, fmt.Sprintf("monitor %d %q is in Alert", m.GetId(), m.GetName()))
			}
		}
	}
	return failures, errors.Join(errs...)
}

// datadogForGates is the Datadog client gates are read with, or why there is none.
func (r *Reconciler) datadogForGates(ctx context.Context) (*datadog.Client, error) {
	if r.Conn == nil {
		return nil, errors.New("gates need Datadog credentials, which are not configured")
	}
	dd, _, err := r.Conn.Get(ctx)
	switch {
	case err != nil:
		// Forbidden to read the Secret, the apiserver away: not the same as no credentials.
		return nil, fmt.Errorf("reading the Datadog credentials: %w", err)
	case dd == nil:
		return nil, errors.New("gates need Datadog credentials, which are not configured")
	}
	return dd, nil
}

// ofTeams reports whether the tags name one of the teams (team:<name>, set by the operator).
func ofTeams(tags, teams []string) bool {
	for _, t := range tags {
		if team, ok := strings.CutPrefix(t, "team:"); ok && slices.Contains(teams, team) {
			return true
		}
	}
	return false
}

func hasAll(tags, want []string) bool {
	for _, w := range want {
		if !slices.Contains(tags, strings.ToLower(w)) {
			return false
		}
	}
	return true
}
