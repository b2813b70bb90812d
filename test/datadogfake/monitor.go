package datadogfake

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// monitor is a stored monitor: the fields as the client sent them plus Datadog's own.
type monitor struct {
	id     int64
	fields map[string]any
	stored time.Time
}

// sloQueryRE matches the query of an "slo alert" monitor and captures the SLO ID.
var sloQueryRE = regexp.MustCompile(`^(burn_rate|error_budget)\("([0-9a-f]{32})"\)\.over\("(7d|30d|90d)"\)(\.long_window\("[0-9]+[mhd]"\))?(\.short_window\("[0-9]+[mhd]"\))?\s*(>=|>|<=|<)\s*[0-9.]+$`)

// burnRateRE captures the windows and the threshold of a burn-rate query.
var burnRateRE = regexp.MustCompile(`long_window\("([0-9]+)([mhd])"\)(?:\.short_window\("([0-9]+)([mhd])"\))?\s*(?:>=|>)\s*([0-9.]+)$`)

// validateBurnRate applies Datadog's burn-rate alert rules: a long window from 1h to 48h, a short
// window shorter than it, and a threshold no higher than 1/(1-target), above which the budget
// is gone before the alert could fire.
func validateBurnRate(query string, target float64) string {
	sub := burnRateRE.FindStringSubmatch(query)
	if sub == nil {
		return "The value provided for parameter 'query' is invalid: burn rate alerts need long_window and a threshold"
	}
	window := func(n, unit string) time.Duration {
		v, _ := strconv.Atoi(n)
		return time.Duration(v) * map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[unit]
	}
	long := window(sub[1], sub[2])
	if long < time.Hour || long > 48*time.Hour {
		return "The value provided for parameter 'query' is invalid: long_window must be between 1h and 48h"
	}
	if sub[3] != "" && window(sub[3], sub[4]) >= long {
		return "The value provided for parameter 'query' is invalid: short_window must be shorter than long_window"
	}
	rate, _ := strconv.ParseFloat(sub[5], 64)
	if max := 100 / (100 - target); rate > max {
		return fmt.Sprintf("The value provided for parameter 'query' is invalid: burn rate threshold %v is above the maximum %.4g for a %v%% target", rate, max, target)
	}
	return ""
}

// sloTarget returns the target of an SLO for a timeframe. Callers hold s.mu.
func (s *Server) sloTarget(id, timeframe string) (float64, bool) {
	o, ok := s.slos[id]
	if !ok {
		return 0, false
	}
	for _, th := range asSlice(o.fields["thresholds"]) {
		tm, _ := th.(map[string]any)
		if str(tm["timeframe"]) == timeframe {
			t, _ := num(tm["target"])
			return t, true
		}
	}
	return 0, true
}

// comparisonRE matches the threshold comparison that ends every non-composite monitor query.
var comparisonRE = regexp.MustCompile(`(>=|<=|>|<|==|!=)\s*(-?[0-9.]+)\s*$`)

func (m *monitor) referencesSLO(id string) bool {
	if str(m.fields["type"]) != "slo alert" {
		return false
	}
	sub := sloQueryRE.FindStringSubmatch(str(m.fields["query"]))
	return sub != nil && sub[2] == id
}

var monitorTypes = []string{
	"composite", "event alert", "log alert", "metric alert", "process alert", "query alert",
	"rum alert", "service check", "synthetics alert", "trace-analytics alert", "slo alert",
	"event-v2 alert", "audit alert", "ci-pipelines alert", "ci-tests alert", "error-tracking alert",
	"database-monitoring alert", "network-performance alert", "cost alert", "data-quality alert",
	"network-path alert", "data-jobs alert", "llm-observability alert",
}

func (s *Server) routeMonitors() {
	s.mux.HandleFunc("POST /api/v1/monitor", s.createMonitor)
	s.mux.HandleFunc("POST /api/v1/monitor/validate", s.validateMonitorRequest)
	s.mux.HandleFunc("GET /api/v1/monitor", s.listMonitors)
	s.mux.HandleFunc("GET /api/v1/monitor/{id}", s.getMonitor)
	s.mux.HandleFunc("PUT /api/v1/monitor/{id}", s.updateMonitor)
	s.mux.HandleFunc("DELETE /api/v1/monitor/{id}", s.deleteMonitor)
}

func (s *Server) createMonitor(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock() // the rules read the SLOs
	defer s.mu.Unlock()
	body, ok := readValid(w, r, s.validateMonitor)
	if !ok {
		return
	}
	// Datadog stores metric alerts as query alerts.
	if body["type"] == "metric alert" {
		body["type"] = "query alert"
	}
	s.nextMonitor++
	id := s.nextMonitor
	now := s.opts.Now().UTC()
	body["id"] = id
	body["org_id"] = s.orgID
	body["created_at"] = now.UnixMilli()
	body["created"] = now.Format("2006-01-02T15:04:05.000000-07:00")
	body["modified"] = body["created"]
	body["deleted"] = nil
	body["overall_state"] = "No Data"
	body["overall_state_modified"] = nil
	body["multi"] = false
	body["creator"] = map[string]any{"name": nil, "email": s.creatorEmail, "handle": s.creatorEmail, "id": 1445416}
	setDefault(body, "restricted_roles", nil)
	setDefault(body, "priority", nil)
	setDefault(body, "message", "")
	setDefault(body, "name", "")
	setDefault(body, "tags", []any{})
	opts, _ := body["options"].(map[string]any)
	if opts == nil {
		opts = map[string]any{}
	}
	for k, v := range map[string]any{"notify_no_data": false, "notify_audit": false, "include_tags": true,
		"new_host_delay": int64(300), "groupby_simple_monitor": false, "silenced": map[string]any{}} {
		setDefault(opts, k, v)
	}
	body["options"] = opts
	sortTags(body)
	s.monitors[id] = &monitor{id: id, fields: body, stored: s.opts.Now()}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) validateMonitorRequest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock() // the rules read the SLOs
	defer s.mu.Unlock()
	if _, ok := readValid(w, r, s.validateMonitor); ok {
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

func (s *Server) getMonitor(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.monitorByPath(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, m.fields)
}

// updateMonitor changes the fields the request carries and keeps the others, as Datadog's PUT
// does; options are merged key by key, and null thresholds are dropped.
func (s *Server) updateMonitor(w http.ResponseWriter, r *http.Request) {
	body, ok := readValid(w, r, nil)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.monitorByPath(w, r)
	if !ok {
		return
	}
	merged := deepCopy(m.fields).(map[string]any)
	for k, v := range body {
		switch k {
		case "id", "org_id", "created", "created_at", "creator", "overall_state", "deleted":
			continue
		case "options":
			if newOpts, ok := v.(map[string]any); ok {
				opts, _ := merged["options"].(map[string]any)
				if opts == nil {
					opts = map[string]any{}
				}
				for ok, ov := range newOpts {
					opts[ok] = ov
				}
				if th, ok := opts["thresholds"].(map[string]any); ok {
					for tk, tv := range th {
						if tv == nil {
							delete(th, tk)
						}
					}
				}
				merged["options"] = opts
				continue
			}
		}
		merged[k] = v
	}
	if msg := s.validateMonitor(merged); msg != "" {
		writeErrors(w, http.StatusBadRequest, msg)
		return
	}
	merged["modified"] = s.opts.Now().UTC().Format("2006-01-02T15:04:05.000000-07:00")
	sortTags(merged)
	m.fields = merged
	writeJSON(w, http.StatusOK, merged)
}

func (s *Server) deleteMonitor(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.monitorByPath(w, r)
	if !ok {
		return
	}
	delete(s.monitors, m.id)
	writeJSON(w, http.StatusOK, map[string]any{"deleted_monitor_id": m.id})
}

// listMonitors filters by monitor_tags (comma separated; a monitor must carry every one) and
// name, and pages with page/page_size (no page: everything) or id_offset, as GET
// /api/v1/monitor does. Monitors come in ID order.
func (s *Server) listMonitors(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var tags []string
	for _, t := range strings.Split(q.Get("monitor_tags"), ",") {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			tags = append(tags, t)
		}
	}
	for _, st := range strings.Split(q.Get("group_states"), ",") {
		if st = strings.TrimSpace(st); st != "" && !slices.Contains([]string{"all", "alert", "warn", "no data"}, st) {
			writeErrors(w, http.StatusBadRequest, "Invalid group_state filters.")
			return
		}
	}
	var idOffset int64
	if v := q.Get("id_offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, "id_offset must be an integer")
			return
		}
		idOffset = n
	}
	pageSize, pageNum := -1, 0
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErrors(w, http.StatusBadRequest, "page must be a non-negative integer")
			return
		}
		pageNum, pageSize = n, 100
	}
	if v := q.Get("page_size"); v != "" && pageSize > 0 {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeErrors(w, http.StatusBadRequest, "page_size must be between 1 and 1000")
			return
		}
		pageSize = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.monitors))
	for id := range s.monitors {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []any
	for _, id := range ids {
		m := s.monitors[id]
		if id <= idOffset || !s.listed("GET /api/v1/monitor", m.stored) {
			continue
		}
		if name := q.Get("name"); name != "" && !strings.Contains(strings.ToLower(str(m.fields["name"])), strings.ToLower(name)) {
			continue
		}
		mtags := strs(m.fields["tags"])
		if !allIn(tags, mtags) {
			continue
		}
		out = append(out, m.fields)
	}
	if pageSize > 0 || s.opts.PageSize > 0 {
		pageSize, pageNum = s.paged(pageSize, pageNum, false)
		out = page(out, pageNum*pageSize, pageSize)
	}
	writeJSON(w, http.StatusOK, orEmpty(out))
}

// SetMonitorState sets a monitor's overall_state (OK, Alert, Warn, No Data), as Datadog would
// after evaluating it. It reports whether the monitor exists.
func (s *Server) SetMonitorState(id int64, state string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.monitors[id]
	if ok {
		m.fields["overall_state"] = state
		m.fields["overall_state_modified"] = s.opts.Now().UTC().Format(time.RFC3339)
	}
	return ok
}

// Monitors returns a copy of every stored monitor's fields, in ID order.
func (s *Server) Monitors() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.monitors))
	for id := range s.monitors {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, deepCopy(s.monitors[id].fields).(map[string]any))
	}
	return out
}

// DeleteMonitor removes a monitor behind the operator's back, as a user in the UI could.
func (s *Server) DeleteMonitor(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.monitors, id)
}

func (s *Server) monitorByPath(w http.ResponseWriter, r *http.Request) (*monitor, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "monitor_id must be an integer")
		return nil, false
	}
	m, ok := s.monitors[id]
	if !ok {
		writeErrors(w, http.StatusNotFound, "Monitor not found")
		return nil, false
	}
	return m, true
}

// validateMonitor applies the rules Datadog enforces; the query check follows the real message
// for a query without a comparison. Callers hold s.mu.
func (s *Server) validateMonitor(b map[string]any) string {
	typ := str(b["type"])
	if !slices.Contains(monitorTypes, typ) {
		return fmt.Sprintf("Invalid monitor type %q", typ)
	}
	query := strings.TrimSpace(str(b["query"]))
	if query == "" {
		return "The value provided for parameter 'query' is invalid: query is required"
	}
	if p, ok := num(b["priority"]); ok && (p < 1 || p > 5) {
		return "Invalid priority: must be between 1 and 5"
	}
	if typ == "slo alert" {
		sub := sloQueryRE.FindStringSubmatch(query)
		if sub == nil {
			return fmt.Sprintf("The value provided for parameter 'query' is invalid: %q is not a valid SLO alert query", query)
		}
		target, ok := s.sloTarget(sub[2], sub[3])
		if !ok {
			return fmt.Sprintf("The value provided for parameter 'query' is invalid: SLO %s not found", sub[2])
		}
		if sub[1] == "burn_rate" {
			return validateBurnRate(query, target)
		}
		return ""
	}
	if typ != "composite" && !comparisonRE.MatchString(query) {
		return "The value provided for parameter 'query' is invalid: invalid operator specified: "
	}
	if typ == "composite" {
		return ""
	}
	// The critical threshold of the options must be the query's.
	opts, _ := b["options"].(map[string]any)
	th, _ := opts["thresholds"].(map[string]any)
	critical, set := num(th["critical"])
	inQuery, _ := strconv.ParseFloat(strings.TrimSpace(comparisonRE.FindStringSubmatch(query)[2]), 64)
	if set && critical != inQuery {
		return fmt.Sprintf("The value provided for parameter 'query' is invalid: Alert threshold (%v) does not match that used in the query (%v).", critical, inQuery)
	}
	return ""
}
