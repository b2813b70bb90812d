package conditions_test

import (
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/conditions"
	"github.com/selfserve-dev/selfserve/internal/controller/serviceslo"
	"github.com/selfserve-dev/selfserve/internal/controller/team"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantclass"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantnamespace"
	"github.com/selfserve-dev/selfserve/internal/controller/upgradepolicy"
	"github.com/selfserve-dev/selfserve/internal/tenancy"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/testutil"
)

// state is one condition state an object of a kind can be in.
type state struct {
	name string
	// outcome is what the controller concluded about generation 2; nil: it has not evaluated
	// the object at all yet (the schema's default status).
	outcome *conditions.Outcome
	// stale: the controller concluded outcome about generation 1, and the spec has changed
	// since (generation 2, not evaluated yet).
	stale      bool
	wantStatus kstatus.Status
	wantArgo   string
}

// TestKstatusAndArgoCDReadEveryState runs kstatus (what Flux and the Argo CD of kstatus-based
// tools compute) and the Argo CD health script the project ships (config/argocd/health.lua, in
// the Lua interpreter Argo CD uses) over every condition state of every kind, and checks they
// agree: Ready reads Current/Healthy, a verdict that needs someone to act Failed (Degraded, or
// Suspended while waiting in line for an approval or a place in the budget), and anything not
// evaluated yet or still being worked on InProgress/Progressing — never Current.
func TestKstatusAndArgoCDReadEveryState(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script, err := testutil.LoadArgoCDHealth(root)
	if err != nil {
		t.Fatal(err)
	}
	ready := func(reason string) state {
		return state{"ready (" + reason + ")", &conditions.Outcome{Ready: true, Reason: reason, Message: "in effect"}, false, kstatus.CurrentStatus, "Healthy"}
	}
	stalled := func(reason, argo string) state {
		return state{"stalled (" + reason + ")", &conditions.Outcome{Stalled: true, Reason: reason, Message: "someone must act"}, false, kstatus.FailedStatus, argo}
	}
	working := func(reason string) state {
		return state{"working (" + reason + ")", &conditions.Outcome{Reason: reason, Message: "retried"}, false, kstatus.InProgressStatus, "Progressing"}
	}
	stale := func(o conditions.Outcome) state {
		return state{"changed after " + o.Reason + ", not evaluated yet", &o, true, kstatus.InProgressStatus, "Progressing"}
	}
	fresh := state{"created, not evaluated yet", nil, false, kstatus.InProgressStatus, "Progressing"}
	kinds := map[string][]state{
		// A Team is always in effect; its reasons only inform.
		"Team": {fresh, ready(team.ReasonAccepted), ready(team.ReasonMembersIgnored), ready(team.ReasonOverBudget),
			stale(conditions.Outcome{Ready: true, Reason: team.ReasonAccepted})},
		"TenantClass": {fresh, ready(tenantclass.ReasonAccepted), stalled(tenantclass.ReasonDuplicateDefault, "Degraded"),
			stale(conditions.Outcome{Ready: true, Reason: tenantclass.ReasonAccepted}),
			stale(conditions.Outcome{Stalled: true, Reason: tenantclass.ReasonDuplicateDefault})},
		"TenantNamespace": {fresh, ready(tenantnamespace.ReasonProvisioned),
			stalled(tenancy.ReasonAwaitingApproval, "Suspended"), stalled(tenancy.ReasonOverBudget, "Suspended"),
			stalled(tenancy.ReasonRejected, "Degraded"), stalled(tenancy.ReasonTeamNotFound, "Degraded"),
			stalled(tenancy.ReasonClassNotFound, "Degraded"), stalled(tenancy.ReasonClassNotAllowed, "Degraded"),
			stalled(tenantnamespace.ReasonNamespaceExists, "Degraded"), stalled(tenantnamespace.ReasonProtected, "Degraded"),
			working(tenantnamespace.ReasonApplyFailed), working(tenantnamespace.ReasonTerminating), working("NamespaceNotReady"),
			stale(conditions.Outcome{Ready: true, Reason: tenantnamespace.ReasonProvisioned}),
			stale(conditions.Outcome{Stalled: true, Reason: tenancy.ReasonAwaitingApproval})},
		"ServiceSLO": {fresh, ready(serviceslo.ReasonSynced),
			stalled(serviceslo.ReasonNotConfigured, "Degraded"), stalled(serviceslo.ReasonNotTenant, "Degraded"), stalled(serviceslo.ReasonInvalidSpec, "Degraded"),
			working(serviceslo.ReasonDatadogError), working(serviceslo.ReasonReconcileError), working(serviceslo.ReasonWaitingForDatadog), working("Pending"),
			stale(conditions.Outcome{Ready: true, Reason: serviceslo.ReasonSynced}),
			stale(conditions.Outcome{Reason: serviceslo.ReasonDatadogError})},
		"ClusterUpgradePolicy": {fresh, ready(platformv1alpha1.ReasonGatesEvaluated),
			stalled(platformv1alpha1.ReasonProviderInvalid, "Degraded"), stalled(upgradepolicy.ReasonInvalidSchedule, "Degraded"),
			working(platformv1alpha1.ReasonSyncFailed), working(platformv1alpha1.ReasonGateUnavailable), working("Pending"),
			stale(conditions.Outcome{Ready: true, Reason: platformv1alpha1.ReasonGatesEvaluated})},
	}
	for kind, states := range kinds {
		for _, s := range states {
			t.Run(kind+"/"+s.name, func(t *testing.T) {
				obj := object(t, kind, s)
				res, err := kstatus.Compute(&unstructured.Unstructured{Object: obj})
				if err != nil || res.Status != s.wantStatus {
					t.Errorf("kstatus: %v (%v), want %s", res, err, s.wantStatus)
				}
				argo, err := testutil.RunArgoCDHealth(script, obj)
				if err != nil || argo.Status != s.wantArgo {
					t.Errorf("Argo CD: %+v (%v), want %s", argo, err, s.wantArgo)
				}
				if s.outcome != nil && !s.stale && argo.Message == "" {
					t.Errorf("Argo CD shows no message")
				}
			})
		}
	}
}

// object is an object of kind at generation 2 in the state, with its status as the
// controllers write it (conditions.Summarize, observedGeneration when it says so), decoded from
// JSON as a client reads it from kube-apiserver (integers as int64).
func object(t *testing.T, kind string, s state) map[string]any {
	t.Helper()
	// Before its first evaluation kube-apiserver serves the schema's default status.
	status := map[string]any{"observedGeneration": 0}
	if s.outcome != nil {
		evaluated := int64(2)
		if s.stale {
			evaluated = 1
		}
		var conds []metav1.Condition
		// Still working: an earlier verdict on this generation stamped it (a retry after a
		// Datadog 503), so only Reconciling says the object is in progress.
		if stamped := conditions.Summarize(&conds, evaluated, *s.outcome); stamped != (s.outcome.Ready || s.outcome.Stalled) {
			t.Errorf("Summarize says stamp observedGeneration: %v; want it for a verdict (Ready or Stalled) only", stamped)
		}
		status["observedGeneration"] = evaluated
		for i := range conds {
			conds[i].LastTransitionTime = metav1.Now()
		}
		status["conditions"] = conds
	}
	obj := map[string]any{
		"apiVersion": platformv1alpha1.GroupVersion.String(), "kind": kind,
		"metadata": map[string]any{"name": "payments", "generation": 2}, "status": status,
	}
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	return u.Object
}
