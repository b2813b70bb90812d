package datadog

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
)

// Downtime is an upgrade window's downtime as selfserve describes and compares it. Its start
// is not compared: Datadog may move a start in the past to when it stored the downtime.
type Downtime struct {
	Message     string
	MonitorTags []string
	Scope       []string
	Start, End  int64 // Unix seconds
}

// downtimeMarker ends the message of a policy's downtime: v1 downtimes carry no tags, so the
// message says which ClusterUpgradePolicy (by UID) it belongs to.
func downtimeMarker(uid string) string { return "[" + TagUIDPrefix + uid + "]" }

// DesiredDowntime is the downtime of the ClusterUpgradePolicy policy (UID uid) in the cluster
// named cluster, from start to end: it mutes this cluster's monitors tagged as disrupted by
// upgrades.
func DesiredDowntime(policy, uid, cluster string, start, end time.Time) Downtime {
	tags := []string{TagUpgradeDisrupted, strings.ToLower(TagClusterPrefix + cluster)}
	sort.Strings(tags)
	return Downtime{
		Message: fmt.Sprintf("Upgrade window of ClusterUpgradePolicy %s: the baseline monitors that node upgrades disrupt are muted until the window closes at %s. Kept by selfserve. %s",
			policy, end.UTC().Format(time.RFC3339), downtimeMarker(uid)),
		MonitorTags: tags,
		Scope:       []string{"*"},
		Start:       start.Unix(),
		End:         end.Unix(),
	}
}

func (d Downtime) object() datadogV1.Downtime {
	o := datadogV1.NewDowntime()
	o.SetMessage(d.Message)
	o.SetMonitorTags(d.MonitorTags)
	o.SetScope(d.Scope)
	o.SetStart(d.Start)
	o.SetEnd(d.End)
	o.SetTimezone("UTC")
	return *o
}

// compared is what of a downtime is compared: everything but its start.
func (d Downtime) compared() Downtime {
	d.Start = 0
	return d
}

func downtimeOf(o datadogV1.Downtime) Downtime {
	return Downtime{Message: o.GetMessage(), MonitorTags: sortedCopy(o.MonitorTags), Scope: sortedCopy(o.Scope), Start: o.GetStart(), End: o.GetEnd()}
}

// live says whether a downtime is still in force or to come: not canceled, not ended.
func live(o datadogV1.Downtime, now time.Time) bool {
	return o.Canceled.Get() == nil && (o.End.Get() == nil || *o.End.Get() > now.Unix())
}

// ListDowntimes lists the downtimes in force (current_only): one call, v1 does not page.
func (c *Client) ListDowntimes(ctx context.Context) ([]datadogV1.Downtime, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return nil, err
	}
	resp, httpResp, err := c.downtimes.ListDowntimes(ctx, *datadogV1.NewListDowntimesOptionalParameters().WithCurrentOnly(true))
	return resp, classify("list downtimes", httpResp, err)
}

// CreateDowntime schedules a downtime.
func (c *Client) CreateDowntime(ctx context.Context, d datadogV1.Downtime) (datadogV1.Downtime, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Downtime{}, err
	}
	resp, httpResp, err := c.downtimes.CreateDowntime(ctx, d)
	if err != nil {
		return datadogV1.Downtime{}, createFailure(classify("create downtime", httpResp, err))
	}
	return resp, nil
}

// GetDowntime reads one downtime.
func (c *Client) GetDowntime(ctx context.Context, id int64) (datadogV1.Downtime, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Downtime{}, err
	}
	resp, httpResp, err := c.downtimes.GetDowntime(ctx, id)
	return resp, classify("get downtime", httpResp, err)
}

// UpdateDowntime changes a downtime.
func (c *Client) UpdateDowntime(ctx context.Context, id int64, d datadogV1.Downtime) (datadogV1.Downtime, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Downtime{}, err
	}
	resp, httpResp, err := c.downtimes.UpdateDowntime(ctx, id, d)
	return resp, classify("update downtime", httpResp, err)
}

// CancelDowntime cancels a downtime; one already gone counts as canceled.
func (c *Client) CancelDowntime(ctx context.Context, id int64) error {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return err
	}
	httpResp, err := c.downtimes.CancelDowntime(ctx, id)
	if err = classify("cancel downtime", httpResp, err); IsKind(err, KindNotFound) {
		return nil
	}
	return err
}

// downtimeTier is the Pending key of a policy's downtime.
const downtimeTier = "downtime"

// ownDowntimes keeps the live downtimes whose message carries the policy's marker, oldest
// (lowest ID) first.
func ownDowntimes(list []datadogV1.Downtime, uid string, now time.Time) []datadogV1.Downtime {
	out := slices.DeleteFunc(slices.Clone(list), func(o datadogV1.Downtime) bool {
		return !live(o, now) || !strings.HasSuffix(o.GetMessage(), downtimeMarker(uid))
	})
	sort.Slice(out, func(i, j int) bool { return out[i].GetId() < out[j].GetId() })
	return out
}

// ObserveDowntime finds the policy's downtime among those in force (one list call) and
// compares it with want; statusID is the ID the policy's status names, 0 if none. After a
// create whose answer was lost, nothing is reported missing before the create has settled.
func (e *External) ObserveDowntime(ctx context.Context, uid string, statusID int64, want Downtime, now time.Time) (Observation[int64], error) {
	list, err := e.client.ListDowntimes(ctx)
	if err != nil {
		return Observation[int64]{}, err
	}
	lookup := func(ctx context.Context) ([]datadogV1.Downtime, error) {
		l, err := e.client.ListDowntimes(ctx)
		return ownDowntimes(l, uid, now), err
	}
	return observe(ctx, e.client.Settings(), e.pending, uid, downtimeTier, statusID, object[int64, datadogV1.Downtime]{
		op:         "create downtime",
		candidates: func() []datadogV1.Downtime { return ownDowntimes(list, uid, now) },
		lookup:     lookup,
		get: func(ctx context.Context, id int64) (datadogV1.Downtime, error) {
			o, err := e.client.GetDowntime(ctx, id)
			if err == nil && !live(o, now) {
				return o, &Error{Op: "get downtime", Kind: KindNotFound, Message: "the downtime was canceled or has ended"}
			}
			return o, err
		},
		id:      func(o datadogV1.Downtime) int64 { return o.GetId() },
		put:     func(datadogV1.Downtime) {},
		compare: func(o datadogV1.Downtime) string { return diff(want.compared(), downtimeOf(o).compared()) },
	})
}

// CreateDowntime schedules the policy's downtime and returns its ID; an unknown outcome is
// remembered as for CreateSLO.
func (e *External) CreateDowntime(ctx context.Context, uid string, want Downtime) (int64, error) {
	sent := time.Now()
	created, err := e.client.CreateDowntime(ctx, want.object())
	if IsKind(err, KindUnknown) {
		e.pending.mark(uid, downtimeTier, sent)
	}
	if err != nil {
		return 0, err
	}
	e.pending.clear(uid, downtimeTier)
	return created.GetId(), nil
}

// UpdateDowntime makes the downtime id equal want.
func (e *External) UpdateDowntime(ctx context.Context, id int64, want Downtime) error {
	_, err := e.client.UpdateDowntime(ctx, id, want.object())
	return err
}

// CancelDowntime cancels one downtime (a duplicate).
func (e *External) CancelDowntime(ctx context.Context, id int64) error {
	return e.client.CancelDowntime(ctx, id)
}

// CancelDowntimes cancels every downtime of the policy in force — the one its status names and
// what one list finds by its marker — when its window closes. While a create of it had no
// answer and has not settled, the unsettled error says to come back.
func (e *External) CancelDowntimes(ctx context.Context, uid string, statusID int64, now time.Time) error {
	looked := time.Now()
	list, err := e.client.ListDowntimes(ctx)
	if err != nil {
		return err
	}
	var ids []int64
	if statusID != 0 {
		ids = append(ids, statusID)
	}
	for _, o := range ownDowntimes(list, uid, now) {
		ids = append(ids, o.GetId())
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if err := e.client.CancelDowntime(ctx, id); err != nil {
			return err
		}
	}
	if sent, ok := e.pending.sentAt(uid, downtimeTier); ok {
		if settles := e.client.Settings().SettlesAt(sent); looked.Before(settles) {
			return unsettled("cancel downtime", sent, settles)
		}
		e.pending.clear(uid, downtimeTier)
	}
	return nil
}

// HasPendingDowntime says whether a create of the policy's downtime had no answer.
func (e *External) HasPendingDowntime(uid string) bool {
	_, ok := e.pending.sentAt(uid, downtimeTier)
	return ok
}
