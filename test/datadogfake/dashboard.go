package datadogfake

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dashboard is a stored dashboard: the fields as the client sent them plus Datadog's own.
type dashboard struct {
	id     string
	fields map[string]any
	stored time.Time
}

func (s *Server) routeDashboards() {
	s.mux.HandleFunc("POST /api/v1/dashboard", s.createDashboard)
	s.mux.HandleFunc("GET /api/v1/dashboard", s.listDashboards)
	s.mux.HandleFunc("GET /api/v1/dashboard/{id}", s.getDashboard)
	s.mux.HandleFunc("PUT /api/v1/dashboard/{id}", s.updateDashboard)
	s.mux.HandleFunc("DELETE /api/v1/dashboard/{id}", s.deleteDashboard)
}

// validateDashboard applies the rules Datadog enforces: a title, a layout type, widgets that
// each have a definition of a type, and SLO widgets that name an SLO that exists. Callers hold
// s.mu.
func (s *Server) validateDashboard(b map[string]any) string {
	if strings.TrimSpace(str(b["title"])) == "" {
		return "Invalid dashboard: 'title' is a required property"
	}
	if lt := str(b["layout_type"]); lt != "ordered" && lt != "free" {
		return fmt.Sprintf("Invalid dashboard: layout_type %q is not one of ['ordered', 'free']", lt)
	}
	widgets, ok := b["widgets"].([]any)
	if !ok {
		return "Invalid dashboard: 'widgets' is a required property"
	}
	for i, w := range widgets {
		def, _ := w.(map[string]any)["definition"].(map[string]any)
		if str(def["type"]) == "" {
			return fmt.Sprintf("Invalid widget definition at position %d: 'type' is a required property", i)
		}
		if str(def["type"]) == "slo" {
			if _, ok := s.slos[str(def["slo_id"])]; !ok {
				return fmt.Sprintf("Invalid widget definition at position %d: SLO %q not found", i, str(def["slo_id"]))
			}
		}
	}
	return ""
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

func (s *Server) createDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, ok := readValid(w, r, s.validateDashboard)
	if !ok {
		return
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	h := fmt.Sprintf("%x", b)
	id := h[0:3] + "-" + h[3:6] + "-" + h[6:9]
	now := s.opts.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00")
	body["id"] = id
	body["url"] = "/dashboard/" + id + "/" + strings.Trim(slugRE.ReplaceAllString(strings.ToLower(str(body["title"])), "-"), "-")
	body["created_at"], body["modified_at"] = now, now
	body["author_handle"] = s.creatorEmail
	body["author_name"] = nil
	setDefault(body, "description", nil)
	setDefault(body, "notify_list", nil)
	setDefault(body, "template_variables", nil)
	setDefault(body, "is_read_only", false)
	s.dashboards[id] = &dashboard{id: id, fields: body, stored: s.opts.Now()}
	s.dashboardOrder = append(s.dashboardOrder, id)
	writeJSON(w, http.StatusOK, body)
}

// summary is a dashboard as GET /api/v1/dashboard lists it.
func (d *dashboard) summary() map[string]any {
	out := map[string]any{}
	for _, k := range []string{"id", "title", "description", "url", "author_handle", "created_at", "modified_at", "layout_type", "is_read_only"} {
		out[k] = d.fields[k]
	}
	return out
}

// listDashboards answers {"dashboards": [...]}, oldest first, paged by count and start (no
// count: everything), trailing creates by the route's lag.
func (s *Server) listDashboards(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	count, start := -1, 0
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeErrors(w, http.StatusBadRequest, "count must be a positive integer")
			return
		}
		count = n
	}
	if v := q.Get("start"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErrors(w, http.StatusBadRequest, "start must be a non-negative integer")
			return
		}
		start = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	for _, id := range s.dashboardOrder {
		if d := s.dashboards[id]; d != nil && s.listed("GET /api/v1/dashboard", d.stored) {
			out = append(out, d.summary())
		}
	}
	if count > 0 || s.opts.PageSize > 0 {
		count, start = s.paged(count, start, true)
		out = page(out, start, count)
	}
	writeJSON(w, http.StatusOK, map[string]any{"dashboards": orEmpty(out)})
}

func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.dashboardByPath(w, r); ok {
		writeJSON(w, http.StatusOK, d.fields)
	}
}

// updateDashboard replaces the dashboard, as Datadog's PUT does, keeping its own fields.
func (s *Server) updateDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, ok := readValid(w, r, s.validateDashboard)
	if !ok {
		return
	}
	d, ok := s.dashboardByPath(w, r)
	if !ok {
		return
	}
	for _, k := range []string{"id", "url", "created_at", "author_handle", "author_name", "is_read_only"} {
		body[k] = d.fields[k]
	}
	setDefault(body, "description", nil)
	body["modified_at"] = s.opts.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00")
	d.fields = body
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) deleteDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dashboardByPath(w, r)
	if !ok {
		return
	}
	delete(s.dashboards, d.id)
	s.dashboardOrder = slices.DeleteFunc(s.dashboardOrder, func(id string) bool { return id == d.id })
	writeJSON(w, http.StatusOK, map[string]any{"deleted_dashboard_id": d.id})
}

func (s *Server) dashboardByPath(w http.ResponseWriter, r *http.Request) (*dashboard, bool) {
	d, ok := s.dashboards[r.PathValue("id")]
	if !ok {
		writeErrors(w, http.StatusNotFound, "Dashboard with ID "+r.PathValue("id")+" not found")
		return nil, false
	}
	return d, true
}

// Dashboards returns a copy of every stored dashboard's fields, oldest first.
func (s *Server) Dashboards() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, id := range s.dashboardOrder {
		out = append(out, deepCopy(s.dashboards[id].fields).(map[string]any))
	}
	return out
}

// EditDashboard changes a dashboard's title behind the operator's back, as a user in the UI
// could; it reports whether the dashboard exists.
func (s *Server) EditDashboard(id, title string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dashboards[id]
	if ok {
		d.fields["title"] = title
		d.fields["modified_at"] = s.opts.Now().UTC().Add(time.Millisecond).Format("2006-01-02T15:04:05.000000+00:00")
	}
	return ok
}
