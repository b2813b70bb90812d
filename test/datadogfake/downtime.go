package datadogfake

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// downtime is a stored v1 downtime: the fields as the client sent them plus Datadog's own.
type downtime struct {
	id     int64
	fields map[string]any
	stored time.Time
}

func (s *Server) routeDowntimes() {
	s.mux.HandleFunc("POST /api/v1/downtime", s.createDowntime)
	s.mux.HandleFunc("GET /api/v1/downtime", s.listDowntimes)
	s.mux.HandleFunc("GET /api/v1/downtime/{id}", s.getDowntime)
	s.mux.HandleFunc("PUT /api/v1/downtime/{id}", s.updateDowntime)
	s.mux.HandleFunc("DELETE /api/v1/downtime/{id}", s.cancelDowntime)
}

// validateDowntime applies the rules Datadog enforces on a downtime: a scope, and an end after
// the start and not in the past.
func (s *Server) validateDowntime(b map[string]any) string {
	if len(strs(b["scope"])) == 0 {
		return "Invalid scope parameter: a downtime needs at least one scope"
	}
	end, hasEnd := num(b["end"])
	start, hasStart := num(b["start"])
	if !hasStart {
		start = float64(s.opts.Now().Unix())
	}
	if hasEnd && end <= start {
		return "Invalid end parameter: end must be after start"
	}
	if hasEnd && int64(end) <= s.opts.Now().Unix() {
		return "Invalid end parameter: end must be in the future"
	}
	return ""
}

// withState sets the fields Datadog derives at read time: active while it has started, has not
// ended and is not canceled. Callers hold s.mu.
func (s *Server) withState(d *downtime) map[string]any {
	out := deepCopy(d.fields).(map[string]any)
	now := s.opts.Now().Unix()
	start, _ := num(out["start"])
	end, hasEnd := num(out["end"])
	out["active"] = out["canceled"] == nil && int64(start) <= now && (!hasEnd || int64(end) > now)
	return out
}

func (s *Server) createDowntime(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, ok := readValid(w, r, s.validateDowntime)
	if !ok {
		return
	}
	s.nextDowntime++
	id := s.nextDowntime
	now := s.opts.Now()
	body["id"] = id
	setDefault(body, "start", now.Unix())
	setDefault(body, "end", nil)
	setDefault(body, "message", nil)
	setDefault(body, "monitor_tags", []any{"*"})
	setDefault(body, "timezone", "UTC")
	for k, v := range map[string]any{"disabled": false, "canceled": nil, "creator_id": int64(1445416), "updater_id": nil,
		"downtime_type": int64(2), "parent_id": nil, "recurrence": nil, "monitor_id": nil, "active_child": nil,
		"mute_first_recovery_notification": false, "notify_end_states": []any{"alert", "no data", "warn"}, "notify_end_types": []any{"expired"}} {
		setDefault(body, k, v)
	}
	d := &downtime{id: id, fields: body, stored: now}
	s.downtimes[id] = d
	writeJSON(w, http.StatusOK, s.withState(d))
}

// listDowntimes answers every downtime (canceled and ended ones included), or with
// current_only those in force, in ID order; the list trails creates by the route's lag.
func (s *Server) listDowntimes(w http.ResponseWriter, r *http.Request) {
	current := r.URL.Query().Get("current_only") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.downtimes))
	for id := range s.downtimes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []any
	for _, id := range ids {
		d := s.downtimes[id]
		if !s.listed("GET /api/v1/downtime", d.stored) {
			continue
		}
		f := s.withState(d)
		if current && f["canceled"] != nil {
			continue
		}
		if end, ok := num(f["end"]); current && ok && int64(end) <= s.opts.Now().Unix() {
			continue
		}
		out = append(out, f)
	}
	writeJSON(w, http.StatusOK, orEmpty(out))
}

func (s *Server) getDowntime(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.downtimeByPath(w, r); ok {
		writeJSON(w, http.StatusOK, s.withState(d))
	}
}

// updateDowntime changes the fields the request carries, as Datadog's PUT does.
func (s *Server) updateDowntime(w http.ResponseWriter, r *http.Request) {
	body, ok := readValid(w, r, nil)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.downtimeByPath(w, r)
	if !ok {
		return
	}
	merged := deepCopy(d.fields).(map[string]any)
	for k, v := range body {
		if k != "id" && k != "creator_id" && k != "canceled" && k != "active" {
			merged[k] = v
		}
	}
	if msg := s.validateDowntime(merged); msg != "" {
		writeErrors(w, http.StatusBadRequest, msg)
		return
	}
	merged["updater_id"] = int64(1445416)
	d.fields = merged
	writeJSON(w, http.StatusOK, s.withState(d))
}

// cancelDowntime cancels a downtime: it stays readable, with the time it was canceled.
func (s *Server) cancelDowntime(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.downtimeByPath(w, r)
	if !ok {
		return
	}
	if d.fields["canceled"] == nil {
		d.fields["canceled"] = s.opts.Now().Unix()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) downtimeByPath(w http.ResponseWriter, r *http.Request) (*downtime, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, "downtime_id must be an integer")
		return nil, false
	}
	d, ok := s.downtimes[id]
	if !ok {
		writeErrors(w, http.StatusNotFound, "Downtime not found")
		return nil, false
	}
	return d, true
}

// Downtimes returns a copy of every stored downtime's fields (canceled ones included, with
// active as of the fake's clock), in ID order.
func (s *Server) Downtimes() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.downtimes))
	for id := range s.downtimes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.withState(s.downtimes[id]))
	}
	return out
}
