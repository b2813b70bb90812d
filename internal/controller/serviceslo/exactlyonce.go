package serviceslo

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	corev1 "k8s.io/api/core/v1"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/internal/metrics"
)

// ReasonDuplicateDeleted is the reason of the event that reports a duplicate deleted.
const ReasonDuplicateDeleted = "DuplicateDeleted"

// unknownCreates remembers the creates whose outcome is unknown (a 5xx, a reset, a time-out:
// Datadog may have stored the object), by CR UID and tier ("" for the SLO). Before creating
// that object again, the reconciler looks for it in Datadog by its tags. After a restart the
// first inventory refresh, which every reconcile waits for, plays that part.
type unknownCreates struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (u *unknownCreates) key(uid, tier string) string { return uid + "/" + tier }

func (u *unknownCreates) mark(uid, tier string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.keys == nil {
		u.keys = map[string]bool{}
	}
	u.keys[u.key(uid, tier)] = true
}

func (u *unknownCreates) has(uid, tier string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.keys[u.key(uid, tier)]
}

func (u *unknownCreates) clear(uid, tier string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.keys, u.key(uid, tier))
}

// forget drops everything remembered of a CR.
func (u *unknownCreates) forget(uid string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k := range u.keys {
		if strings.HasPrefix(k, uid+"/") {
			delete(u.keys, k)
		}
	}
}

// lookupSLOs reads, with one list call, the SLOs carrying the CR's tag and selfserve's.
func lookupSLOs(ctx context.Context, dd *datadog.Client, uid string) ([]datadogV1.ServiceLevelObjective, error) {
	list, err := dd.ListSLOs(ctx, datadog.TagUIDPrefix+uid)
	if err != nil {
		return nil, err
	}
	return datadog.GroupSLOs(managed(list, func(s datadogV1.ServiceLevelObjective) []string { return s.GetTags() }))[uid], nil
}

// lookupMonitors reads, with one list call, the monitors of a CR's tier.
func lookupMonitors(ctx context.Context, dd *datadog.Client, uid, tier string) ([]datadogV1.Monitor, error) {
	list, err := dd.ListMonitors(ctx, []string{datadog.TagUIDPrefix + uid, datadog.TagTierPrefix + tier})
	if err != nil {
		return nil, err
	}
	return datadog.GroupMonitors(managed(list, func(m datadogV1.Monitor) []string { return m.GetTags() }))[uid][tier], nil
}

// managed keeps the objects that carry managed-by:selfserve: the operator deletes nothing else.
func managed[T any](objs []T, tags func(T) []string) []T {
	return slices.DeleteFunc(objs, func(o T) bool {
		return !slices.ContainsFunc(tags(o), func(t string) bool { return strings.EqualFold(t, datadog.TagManaged) })
	})
}

// keepOneSLO keeps one of the SLOs carrying the CR's tag — the one its status names, else the
// oldest — and deletes the others, counting them and saying so in an event.
func (r *Reconciler) keepOneSLO(ctx context.Context, slo *platformv1alpha1.ServiceSLO, dd *datadog.Client, candidates []datadogV1.ServiceLevelObjective) (datadogV1.ServiceLevelObjective, bool, error) {
	if len(candidates) == 0 {
		return datadogV1.ServiceLevelObjective{}, false, nil
	}
	keep := candidates[0]
	if i := slices.IndexFunc(candidates, func(s datadogV1.ServiceLevelObjective) bool { return s.GetId() == slo.Status.SLOID }); i >= 0 {
		keep = candidates[i]
	}
	uid := string(slo.UID)
	for _, s := range candidates {
		if s.GetId() == keep.GetId() {
			continue
		}
		if err := dd.DeleteSLO(ctx, s.GetId()); err != nil {
			return keep, true, err
		}
		r.Inventory.DropSLO(uid, s.GetId())
		metrics.DuplicatesDeleted.WithLabelValues("DatadogSLO").Inc()
		r.Recorder.Eventf(slo, nil, corev1.EventTypeWarning, ReasonDuplicateDeleted, "Delete",
			"Deleted SLO %s in Datadog, a duplicate of SLO %s (a create whose answer was lost)", s.GetId(), keep.GetId())
	}
	return keep, true, nil
}

// keepOneMonitor keeps one of a tier's monitors — the one the status names, else the oldest —
// and deletes the others, counting them and saying so in an event.
func (r *Reconciler) keepOneMonitor(ctx context.Context, slo *platformv1alpha1.ServiceSLO, dd *datadog.Client, tier string, candidates []datadogV1.Monitor) (datadogV1.Monitor, bool, error) {
	if len(candidates) == 0 {
		return datadogV1.Monitor{}, false, nil
	}
	keep := candidates[0]
	if i := slices.IndexFunc(candidates, func(m datadogV1.Monitor) bool { return m.GetId() == monitorID(slo, tier) }); i >= 0 {
		keep = candidates[i]
	}
	uid := string(slo.UID)
	for _, m := range candidates {
		if m.GetId() == keep.GetId() {
			continue
		}
		if err := dd.DeleteMonitor(ctx, m.GetId()); err != nil {
			return keep, true, err
		}
		r.Inventory.DropMonitor(uid, tier, m.GetId())
		metrics.DuplicatesDeleted.WithLabelValues("DatadogMonitor").Inc()
		r.Recorder.Eventf(slo, nil, corev1.EventTypeWarning, ReasonDuplicateDeleted, "Delete",
			"Deleted burn-rate monitor %d (%s) in Datadog, a duplicate of monitor %d (a create whose answer was lost)", m.GetId(), tier, keep.GetId())
	}
	return keep, true, nil
}
