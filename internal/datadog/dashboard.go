package datadog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
)

// TeamSLO is a ServiceSLO of a Team, as its dashboard shows it.
type TeamSLO struct {
	ID, Name   string
	Timeframes []string
}

// Dashboard is a Team's dashboard as selfserve describes it; Hash identifies it, so that an
// unchanged dashboard is not sent again.
type Dashboard struct {
	Body datadogV1.Dashboard
	Hash string
}

// dashboardMarker ends the description of a Team's dashboard: dashboards carry no free tags, so
// the description says which Team (by UID) it belongs to, and in which cluster.
func dashboardMarker(uid, cluster string) string {
	return "[" + TagUIDPrefix + uid + " " + TagClusterPrefix + cluster + "]"
}

// dashboardMarkerRE reads the Team's UID and the cluster back from a description.
var dashboardMarkerRE = regexp.MustCompile(`\[` + regexp.QuoteMeta(TagUIDPrefix) + `([^ \]]+) ` + regexp.QuoteMeta(TagClusterPrefix) + `([^ \]]+)\]$`)

// dashboardOwner is the Team UID and cluster a dashboard's description names, "" when none.
func dashboardOwner(description string) (uid, cluster string) {
	if sub := dashboardMarkerRE.FindStringSubmatch(description); sub != nil {
		return sub[1], sub[2]
	}
	return "", ""
}

// DesiredDashboard is the dashboard of Team team (UID uid) in the cluster named cluster: an SLO
// widget per ServiceSLO with its remaining budget per timeframe, a summary of the team's
// monitors (burn-rate and baseline: every monitor selfserve tags with the team), and the quota
// used per namespace.
func DesiredDashboard(team, uid, cluster string, slos []TeamSLO) Dashboard {
	var widgets []datadogV1.Widget
	sorted := append([]TeamSLO(nil), slos...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, s := range sorted {
		w := datadogV1.NewSLOWidgetDefinition(datadogV1.SLOWIDGETDEFINITIONTYPE_SLO, "detail")
		w.SetSloId(s.ID)
		w.SetTitle(s.Name)
		w.SetShowErrorBudget(true)
		w.SetViewMode(datadogV1.WIDGETVIEWMODE_OVERALL)
		var windows []datadogV1.WidgetTimeWindows
		for _, tf := range s.Timeframes {
			windows = append(windows, datadogV1.WidgetTimeWindows(tf))
		}
		w.SetTimeWindows(windows)
		widgets = append(widgets, *datadogV1.NewWidget(datadogV1.SLOWidgetDefinitionAsWidgetDefinition(w)))
	}
	monitors := datadogV1.NewMonitorSummaryWidgetDefinition(
		fmt.Sprintf("tag:(%s AND team:%s)", TagManaged, strings.ToLower(team)), datadogV1.MONITORSUMMARYWIDGETDEFINITIONTYPE_MANAGE_STATUS)
	monitors.SetTitle("Monitors of team " + team + " (burn rate and baseline)")
	monitors.SetSummaryType(datadogV1.WIDGETSUMMARYTYPE_MONITORS)
	monitors.SetDisplayFormat(datadogV1.WIDGETMONITORSUMMARYDISPLAYFORMAT_COUNTS_AND_LIST)
	monitors.SetSort(datadogV1.WIDGETMONITORSUMMARYSORT_STATUS_ASCENDING)
	widgets = append(widgets, *datadogV1.NewWidget(datadogV1.MonitorSummaryWidgetDefinitionAsWidgetDefinition(monitors)))
	req := datadogV1.NewTimeseriesWidgetRequest()
	req.SetQ(fmt.Sprintf("max:selfserve.tenant_quota_used_ratio{team:%s} by {tenant,resource}", strings.ToLower(team)))
	req.SetDisplayType(datadogV1.WIDGETDISPLAYTYPE_LINE)
	quota := datadogV1.NewTimeseriesWidgetDefinition([]datadogV1.TimeseriesWidgetRequest{*req}, datadogV1.TIMESERIESWIDGETDEFINITIONTYPE_TIMESERIES)
	quota.SetTitle("Quota used per namespace (1 is full)")
	widgets = append(widgets, *datadogV1.NewWidget(datadogV1.TimeseriesWidgetDefinitionAsWidgetDefinition(quota)))

	d := datadogV1.NewDashboard(datadogV1.DASHBOARDLAYOUTTYPE_ORDERED, "Team "+team+" (selfserve)", widgets)
	d.SetDescription(fmt.Sprintf("The SLOs, monitors and quota of team %s, kept by selfserve: edits here are put back at the next poll. %s", team, dashboardMarker(uid, cluster)))
	d.SetReflowType(datadogV1.DASHBOARDREFLOWTYPE_AUTO)
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	return Dashboard{Body: *d, Hash: hex.EncodeToString(sum[:12])}
}

// ListDashboards lists every dashboard's summary, every page.
func (c *Client) ListDashboards(ctx context.Context) ([]datadogV1.DashboardSummaryDefinition, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return nil, err
	}
	var out []datadogV1.DashboardSummaryDefinition
	seen := map[string]bool{}
	p := pager{op: "list dashboards"}
	for start := int64(0); ; {
		resp, httpResp, err := c.dashboards.ListDashboards(ctx, *datadogV1.NewListDashboardsOptionalParameters().
			WithCount(int64(c.PageSize)).WithStart(start))
		if err != nil {
			return nil, classify("list dashboards", httpResp, err)
		}
		fresh := 0
		for _, d := range resp.Dashboards {
			if !seen[d.GetId()] {
				seen[d.GetId()] = true
				out = append(out, d)
				fresh++
			}
		}
		more, move, err := p.next(len(resp.Dashboards), fresh)
		if !more || err != nil {
			return out, err
		}
		if move {
			start += int64(len(resp.Dashboards))
		}
	}
}

// CreateDashboard creates a dashboard.
func (c *Client) CreateDashboard(ctx context.Context, d datadogV1.Dashboard) (datadogV1.Dashboard, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Dashboard{}, err
	}
	resp, httpResp, err := c.dashboards.CreateDashboard(ctx, d)
	if err != nil {
		return datadogV1.Dashboard{}, createFailure(classify("create dashboard", httpResp, err))
	}
	return resp, nil
}

// GetDashboard reads one dashboard.
func (c *Client) GetDashboard(ctx context.Context, id string) (datadogV1.Dashboard, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Dashboard{}, err
	}
	resp, httpResp, err := c.dashboards.GetDashboard(ctx, id)
	return resp, classify("get dashboard", httpResp, err)
}

// UpdateDashboard replaces a dashboard.
func (c *Client) UpdateDashboard(ctx context.Context, id string, d datadogV1.Dashboard) (datadogV1.Dashboard, error) {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return datadogV1.Dashboard{}, err
	}
	resp, httpResp, err := c.dashboards.UpdateDashboard(ctx, id, d)
	return resp, classify("update dashboard", httpResp, err)
}

// DeleteDashboard deletes a dashboard; one already gone counts as deleted.
func (c *Client) DeleteDashboard(ctx context.Context, id string) error {
	ctx, err := c.ctx(ctx)
	if err != nil {
		return err
	}
	_, httpResp, err := c.dashboards.DeleteDashboard(ctx, id)
	if err = classify("delete dashboard", httpResp, err); IsKind(err, KindNotFound) {
		return nil
	}
	return err
}

// dashboardTier is the Pending key of a Team's dashboard.
const dashboardTier = "dashboard"

// ObserveDashboard finds the Team's dashboard among the inventory's (or, after a create whose
// answer was lost, what one list finds). UpToDate says it is the one the status last wrote
// (hash) and nobody changed it since (modifiedAt, read from the list): no read of its widgets.
func (e *External) ObserveDashboard(ctx context.Context, uid, statusID, hash, statusHash string, statusModified time.Time) (Observation[string], error) {
	return observe(ctx, e.client.Settings(), e.pending, uid, dashboardTier, statusID, object[string, datadogV1.DashboardSummaryDefinition]{
		op:         "create dashboard",
		candidates: func() []datadogV1.DashboardSummaryDefinition { return e.inventory.Dashboards(uid) },
		lookup: func(ctx context.Context) ([]datadogV1.DashboardSummaryDefinition, error) {
			list, err := e.client.ListDashboards(ctx)
			return groupDashboards(list)[uid], err
		},
		get: func(ctx context.Context, id string) (datadogV1.DashboardSummaryDefinition, error) {
			d, err := e.client.GetDashboard(ctx, id)
			return summaryOf(d), err
		},
		id:  func(d datadogV1.DashboardSummaryDefinition) string { return d.GetId() },
		put: func(d datadogV1.DashboardSummaryDefinition) { e.inventory.PutDashboard(uid, d) },
		compare: func(d datadogV1.DashboardSummaryDefinition) string {
			if hash != statusHash {
				return "the dashboard's content changed"
			}
			if !d.GetModifiedAt().Equal(statusModified) {
				return "the dashboard was edited in Datadog at " + d.GetModifiedAt().UTC().Format(time.RFC3339)
			}
			return ""
		},
	})
}

// CreateDashboard creates the Team's dashboard; an unknown outcome is remembered as for
// CreateSLO.
func (e *External) CreateDashboard(ctx context.Context, uid string, want Dashboard) (datadogV1.Dashboard, error) {
	sent := time.Now()
	created, err := e.client.CreateDashboard(ctx, want.Body)
	if IsKind(err, KindUnknown) {
		e.pending.mark(uid, dashboardTier, sent)
	}
	if err != nil {
		return created, err
	}
	e.pending.clear(uid, dashboardTier)
	e.inventory.AddDashboard(uid, summaryOf(created))
	return created, nil
}

// UpdateDashboard replaces the Team's dashboard id with want.
func (e *External) UpdateDashboard(ctx context.Context, uid, id string, want Dashboard) (datadogV1.Dashboard, error) {
	updated, err := e.client.UpdateDashboard(ctx, id, want.Body)
	if err != nil {
		return updated, err
	}
	e.inventory.PutDashboard(uid, summaryOf(updated))
	return updated, nil
}

// DeleteDashboard deletes one dashboard of a Team (a duplicate).
func (e *External) DeleteDashboard(ctx context.Context, uid, id string) error {
	if err := e.client.DeleteDashboard(ctx, id); err != nil {
		return err
	}
	e.inventory.DropDashboard(uid, id)
	return nil
}

// DeleteDashboards deletes the dashboards of a Team the inventory holds (and, while a create of
// it had no answer, what one list finds), as DeleteMonitorsOf does for monitors.
func (e *External) DeleteDashboards(ctx context.Context, uid string) error {
	var ids []string
	for _, d := range e.inventory.Dashboards(uid) {
		ids = append(ids, d.GetId())
	}
	sent, lost := e.pending.sentAt(uid, dashboardTier)
	looked := time.Now()
	if lost {
		list, err := e.client.ListDashboards(ctx)
		if err != nil {
			return err
		}
		for _, d := range groupDashboards(list)[uid] {
			ids = append(ids, d.GetId())
		}
	}
	for _, id := range ids {
		if err := e.client.DeleteDashboard(ctx, id); err != nil {
			return err
		}
	}
	e.inventory.RemoveDashboards(uid)
	if lost {
		if settles := e.client.Settings().SettlesAt(sent); looked.Before(settles) {
			return unsettled("delete dashboard", sent, settles)
		}
		e.pending.clear(uid, dashboardTier)
	}
	return nil
}

// summaryOf is a dashboard as the list shows it.
func summaryOf(d datadogV1.Dashboard) datadogV1.DashboardSummaryDefinition {
	s := datadogV1.NewDashboardSummaryDefinition()
	s.SetId(d.GetId())
	s.SetTitle(d.GetTitle())
	s.SetDescription(d.GetDescription())
	s.SetUrl(d.GetUrl())
	if d.ModifiedAt != nil {
		s.SetModifiedAt(*d.ModifiedAt)
	}
	if d.CreatedAt != nil {
		s.SetCreatedAt(*d.CreatedAt)
	}
	return *s
}

// groupDashboards groups dashboards by the Team UID their description names, oldest first.
func groupDashboards(list []datadogV1.DashboardSummaryDefinition) map[string][]datadogV1.DashboardSummaryDefinition {
	out := map[string][]datadogV1.DashboardSummaryDefinition{}
	for _, d := range list {
		if uid, _ := dashboardOwner(d.GetDescription()); uid != "" {
			out[uid] = append(out[uid], d)
		}
	}
	for _, l := range out {
		sort.Slice(l, func(i, j int) bool {
			if !l[i].GetCreatedAt().Equal(l[j].GetCreatedAt()) {
				return l[i].GetCreatedAt().Before(l[j].GetCreatedAt())
			}
			return l[i].GetId() < l[j].GetId()
		})
	}
	return out
}

// DashboardOwners returns the UIDs of the Teams of the cluster named cluster that have a
// dashboard in the inventory.
func (inv *Inventory) DashboardOwners(cluster string) []string {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var out []string
	for uid, l := range inv.dashboards {
		if len(l) > 0 {
			if _, c := dashboardOwner(l[0].GetDescription()); c == cluster {
				out = append(out, uid)
			}
		}
	}
	sort.Strings(out)
	return out
}
