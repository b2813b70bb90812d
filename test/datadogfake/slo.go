package datadogfake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// slo is a stored service level objective: the fields as the client sent them plus the ones
// Datadog adds, and the status the SLO search reports.
type slo struct {
	fields map[string]any
	status map[string]SLOStatus // by timeframe
	stored time.Time
}

// SLOStatus is what Datadog's SLO search reports for one timeframe of an SLO.
type SLOStatus struct {
	// SLI is the measured service level in percent.
	SLI float64
	// ErrorBudgetRemaining is the remaining error budget in percent (negative when exhausted).
	ErrorBudgetRemaining float64
	// State is ok, warning, breached or no_data.
	State string
}

var sloTypeIDs = map[string]int64{"monitor": 0, "metric": 1, "time_slice": 2}

func (s *Server) routeSLOs() {
	s.mux.HandleFunc("POST /api/v1/slo", s.createSLO)
	s.mux.HandleFunc("GET /api/v1/slo", s.listSLOs)
	s.mux.HandleFunc("GET /api/v1/slo/search", s.searchSLOs)
	s.mux.HandleFunc("GET /api/v1/slo/{id}", s.getSLO)
	s.mux.HandleFunc("PUT /api/v1/slo/{id}", s.updateSLO)
	s.mux.HandleFunc("DELETE /api/v1/slo/{id}", s.deleteSLO)
}

func (s *Server) createSLO(w http.ResponseWriter, r *http.Request) {
	body, ok := readValid(w, r, validateSLO)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := newSLOID()
	now := s.opts.Now().Unix()
	body["id"] = id
	body["created_at"] = now
	body["modified_at"] = now
	body["creator"] = map[string]any{"name": nil, "handle": s.creatorEmail, "email": s.creatorEmail}
	completeSLO(body)
	s.slos[id] = &slo{fields: body, status: map[string]SLOStatus{}, stored: s.opts.Now()}
	s.sloOrder = append(s.sloOrder, id)
	writeJSON(w, http.StatusOK, map[string]any{"data": []any{body}, "error": nil})
}

func (s *Server) getSLO(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.slos[r.PathValue("id")]
	if !ok {
		writeErrors(w, http.StatusNotFound, "SLO not found: "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": o.fields, "error": nil})
}

// updateSLO replaces the SLO's definition, as Datadog's PUT does; the ID, creator and creation
// time stay.
func (s *Server) updateSLO(w http.ResponseWriter, r *http.Request) {
	body, ok := readValid(w, r, validateSLO)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	o, ok := s.slos[id]
	if !ok {
		writeErrors(w, http.StatusNotFound, "SLO not found: "+id)
		return
	}
	for _, k := range []string{"id", "creator", "created_at"} {
		body[k] = o.fields[k]
	}
	body["modified_at"] = s.opts.Now().Unix()
	completeSLO(body)
	o.fields = body
	writeJSON(w, http.StatusOK, map[string]any{"data": []any{body}, "error": nil})
}

func (s *Server) deleteSLO(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	if _, ok := s.slos[id]; !ok {
		writeErrors(w, http.StatusNotFound, "SLO not found: "+id)
		return
	}
	// Datadog refuses to delete an SLO that something still references, unless forced.
	if r.URL.Query().Get("force") != "true" {
		for _, m := range s.monitors {
			if m.referencesSLO(id) {
				writeJSON(w, http.StatusConflict, map[string]any{"data": []any{}, "errors": map[string]any{
					id: fmt.Sprintf("SLO %s is referenced in monitor %d", id, m.id)}})
				return
			}
		}
	}
	delete(s.slos, id)
	s.sloOrder = slices.DeleteFunc(s.sloOrder, func(x string) bool { return x == id })
	writeJSON(w, http.StatusOK, map[string]any{"data": []any{id}, "error": nil})
}

// listSLOs filters by ids, query (name) and tags_query (one tag), and pages with limit and
// offset, as GET /api/v1/slo does.
func (s *Server) listSLOs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var ids []string
	for _, id := range strings.Split(q.Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	limit, offset, msg := pageParams(q, "limit", "offset", 1000)
	if msg != "" {
		writeErrors(w, http.StatusBadRequest, msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	total := len(s.sloOrder)
	for _, id := range s.sloOrder {
		o := s.slos[id]
		if !s.listed("GET /api/v1/slo", o.stored) {
			continue
		}
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		if name := q.Get("query"); name != "" && !strings.Contains(strings.ToLower(str(o.fields["name"])), strings.ToLower(name)) {
			continue
		}
		if tag := strings.ToLower(strings.TrimSpace(q.Get("tags_query"))); tag != "" && !slices.Contains(strs(o.fields["tags"]), tag) {
			continue
		}
		out = append(out, o.fields)
	}
	// As recorded from Datadog: total_filtered_count is the page size asked for, capped at the
	// matches, not the number of matches.
	filtered := len(out)
	if limit >= 0 {
		filtered = min(filtered, limit)
	}
	limit, offset = s.paged(limit, offset, true)
	out = page(out, offset, limit)
	writeJSON(w, http.StatusOK, map[string]any{
		"data":     orEmpty(out),
		"error":    nil,
		"metadata": map[string]any{"page": map[string]any{"total_count": total, "total_filtered_count": filtered}},
	})
}

// searchSLOs answers GET /api/v1/slo/search in its JSON:API shape, with overall_status per
// timeframe. The query matches "tag:value" terms (AND) against the SLO's tags, and other words
// against its name.
func (s *Server) searchSLOs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, number := 10, 0
	if v := q.Get("page[size]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeErrors(w, http.StatusBadRequest, "page[size] must be between 1 and 1000")
			return
		}
		size = n
	}
	if v := q.Get("page[number]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErrors(w, http.StatusBadRequest, "page[number] must be a non-negative integer")
			return
		}
		number = n
	}
	terms := strings.Fields(strings.ReplaceAll(q.Get("query"), " AND ", " "))
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []any
	for _, id := range s.sloOrder {
		o := s.slos[id]
		if s.listed("GET /api/v1/slo/search", o.stored) && matchesSearch(o, terms) {
			matched = append(matched, s.searchResult(o))
		}
	}
	total := len(matched)
	size, read := s.paged(size, number, false)
	pageItems := page(matched, read*size, size)
	last := 0
	if total > 0 {
		last = (total - 1) / size
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{
			"type":       "service_level_objective_search_results",
			"attributes": map[string]any{"slos": orEmpty(pageItems)},
		},
		"meta": map[string]any{"pagination": map[string]any{
			"number": number, "first_number": 0, "prev_number": max(number-1, 0), "next_number": number + 1,
			"last_number": last, "size": size, "type": "number_size", "total": total,
		}},
		"links": searchLinks(r.URL, number, last, size),
	})
}

// searchLinks are the JSON:API pagination links of a search answer.
func searchLinks(u *url.URL, number, last, size int) map[string]any {
	at := func(n int) string {
		q := u.Query()
		q.Set("page[number]", strconv.Itoa(n))
		q.Set("page[size]", strconv.Itoa(size))
		return u.Path + "?" + q.Encode()
	}
	return map[string]any{
		"self": at(number), "first": at(0), "last": at(last),
		"next": at(number + 1), "prev": at(max(number-1, 0)),
	}
}

func matchesSearch(o *slo, terms []string) bool {
	tags := strs(o.fields["tags"])
	for _, t := range terms {
		t = strings.Trim(t, `"`)
		if tag, ok := strings.CutPrefix(t, "tags:"); ok {
			t = tag
		}
		if strings.Contains(t, ":") {
			if !slices.Contains(tags, strings.ToLower(t)) {
				return false
			}
			continue
		}
		if !strings.Contains(strings.ToLower(str(o.fields["name"])), strings.ToLower(t)) {
			return false
		}
	}
	return true
}

func (s *Server) searchResult(o *slo) map[string]any {
	var overall []any
	for _, th := range asSlice(o.fields["thresholds"]) {
		tm, _ := th.(map[string]any)
		tf := str(tm["timeframe"])
		st, ok := o.status[tf]
		entry := map[string]any{
			"timeframe": tf, "target": tm["target"], "indexed_at": s.opts.Now().Unix(),
			"error_budget_remaining": nil, "raw_error_budget_remaining": nil, "status": nil,
			"span_precision": nil, "error": nil, "state": "no_data",
		}
		if ok {
			entry["error_budget_remaining"] = st.ErrorBudgetRemaining
			entry["raw_error_budget_remaining"] = map[string]any{"unit": "%", "value": st.ErrorBudgetRemaining}
			entry["status"] = st.SLI
			entry["state"] = st.State
			entry["span_precision"] = 2
		}
		overall = append(overall, entry)
	}
	// The search reports queries with their metric names, and the primary timeframe's status.
	var query any
	if q, ok := o.fields["query"].(map[string]any); ok {
		query = map[string]any{"numerator": q["numerator"], "denominator": q["denominator"], "metrics": nil}
	}
	var primary map[string]any
	if len(overall) > 0 {
		p := overall[0].(map[string]any)
		primary = map[string]any{
			"error_budget_remaining": p["error_budget_remaining"], "raw_error_budget_remaining": p["raw_error_budget_remaining"],
			"indexed_at": p["indexed_at"], "span_precision": p["span_precision"], "state": p["state"],
			"sli": p["status"], "calculation_error": nil,
		}
	}
	attrs := map[string]any{
		"status": primary,
		"name":   o.fields["name"], "description": o.fields["description"], "all_tags": o.fields["tags"],
		"thresholds": o.fields["thresholds"], "slo_type": o.fields["type"], "query": query,
		"monitor_ids": o.fields["monitor_ids"], "overall_status": orEmpty(overall),
		"created_at": o.fields["created_at"], "modified_at": o.fields["modified_at"],
		"creator":  map[string]any{"name": nil, "id": 1445416, "email": s.creatorEmail},
		"env_tags": []any{}, "service_tags": []any{}, "team_tags": []any{}, "groups": nil,
		"timeframe": o.fields["timeframe"], "target_threshold": o.fields["target_threshold"],
		"warning_threshold": o.fields["warning_threshold"],
	}
	return map[string]any{"data": map[string]any{"type": "slo", "id": o.fields["id"], "attributes": attrs}}
}

// SetSLOStatus sets what the SLO search reports for one timeframe of an SLO, as Datadog would
// after measuring it. It reports whether the SLO exists.
func (s *Server) SetSLOStatus(id, timeframe string, st SLOStatus) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.slos[id]
	if ok {
		o.status[timeframe] = st
	}
	return ok
}

// SLOs returns a copy of every stored SLO's fields, in creation order.
func (s *Server) SLOs() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, 0, len(s.sloOrder))
	for _, id := range s.sloOrder {
		out = append(out, deepCopy(s.slos[id].fields).(map[string]any))
	}
	return out
}

// Tagged returns the SLOs and monitors that carry tag, as SLOs and Monitors do.
func (s *Server) Tagged(tag string) (slos, monitors []map[string]any) {
	for _, o := range s.SLOs() {
		if slices.Contains(strs(o["tags"]), tag) {
			slos = append(slos, o)
		}
	}
	for _, o := range s.Monitors() {
		if slices.Contains(strs(o["tags"]), tag) {
			monitors = append(monitors, o)
		}
	}
	return slos, monitors
}

// DeleteSLO removes an SLO behind the operator's back, as a user in the Datadog UI could.
func (s *Server) DeleteSLO(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.slos, id)
	s.sloOrder = slices.DeleteFunc(s.sloOrder, func(x string) bool { return x == id })
}

// validateSLO applies the rules Datadog enforces on an SLO definition; the messages follow the
// real ones ("Invalid payload: must specify monitor_ids").
func validateSLO(b map[string]any) string {
	if str(b["name"]) == "" {
		return "Invalid payload: must specify name"
	}
	typ := str(b["type"])
	if _, ok := sloTypeIDs[typ]; !ok {
		return fmt.Sprintf("Invalid payload: invalid type %q, must be one of metric, monitor, time_slice", typ)
	}
	ths := asSlice(b["thresholds"])
	if len(ths) == 0 {
		return "Invalid payload: must specify thresholds"
	}
	seen := map[string]bool{}
	for _, th := range ths {
		tm, _ := th.(map[string]any)
		tf := str(tm["timeframe"])
		if !slices.Contains([]string{"7d", "30d", "90d", "custom"}, tf) {
			return fmt.Sprintf("Invalid payload: invalid timeframe %q", tf)
		}
		if seen[tf] {
			return fmt.Sprintf("Invalid payload: duplicate threshold for timeframe %s", tf)
		}
		seen[tf] = true
		target, ok := num(tm["target"])
		if !ok || target <= 0 || target >= 100 {
			return "Invalid payload: target must be between 0 and 100 (exclusive)"
		}
		if w, ok := num(tm["warning"]); ok && w <= target {
			return "Invalid payload: warning must be greater than target"
		}
	}
	for _, q := range sloQueries(b) {
		if !parses(q) {
			return fmt.Sprintf("Invalid payload: invalid query %q: unbalanced parentheses, braces, brackets or quotes", q)
		}
	}
	switch typ {
	case "metric":
		q, _ := b["query"].(map[string]any)
		spec, _ := b["sli_specification"].(map[string]any)
		if (strings.TrimSpace(str(q["numerator"])) == "" || strings.TrimSpace(str(q["denominator"])) == "") && spec["count"] == nil {
			return "Invalid payload: must specify query with numerator and denominator, or sli_specification.count"
		}
	case "monitor":
		if len(asSlice(b["monitor_ids"])) == 0 {
			return "Invalid payload: must specify monitor_ids"
		}
	case "time_slice":
		if _, ok := b["sli_specification"].(map[string]any); !ok {
			return "Invalid payload: must specify sli_specification"
		}
	}
	return ""
}

// completeSLO adds what Datadog derives from a definition: its type ID, empty lists, sorted tags,
// the primary timeframe and targets
// (from the first threshold), the display strings of thresholds, the numerator/denominator form
// of an sli_specification count, and the default time slice interval.
func completeSLO(b map[string]any) {
	b["type_id"] = sloTypeIDs[b["type"].(string)]
	setDefault(b, "tags", []any{})
	setDefault(b, "monitor_tags", []any{})
	setDefault(b, "description", "")
	sortTags(b)
	ths := asSlice(b["thresholds"])
	if first, ok := ths[0].(map[string]any); ok {
		setDefault(b, "timeframe", first["timeframe"])
		setDefault(b, "target_threshold", first["target"])
		if w, ok := first["warning"]; ok {
			setDefault(b, "warning_threshold", w)
		}
	}
	if spec, ok := b["sli_specification"].(map[string]any); ok {
		if count, ok := spec["count"].(map[string]any); ok && b["query"] == nil {
			b["query"] = countQuery(count)
		}
		if ts, ok := spec["time_slice"].(map[string]any); ok {
			setDefault(ts, "query_interval_seconds", int64(300))
		}
	}
	for _, th := range ths {
		tm, _ := th.(map[string]any)
		if v, ok := num(tm["target"]); ok && tm["target_display"] == nil {
			tm["target_display"] = strconv.FormatFloat(v, 'f', -1, 64)
		}
		if v, ok := num(tm["warning"]); ok && tm["warning_display"] == nil {
			tm["warning_display"] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
}

// countQuery writes a count sli_specification as the numerator/denominator query Datadog
// reports: formulas with each query name replaced by its query, bad events added to good ones
// when only those are given.
func countQuery(count map[string]any) map[string]any {
	queries := map[string]string{}
	for _, q := range asSlice(count["queries"]) {
		qm, _ := q.(map[string]any)
		queries[str(qm["name"])] = str(qm["query"])
	}
	expand := func(formula any) string {
		fm, _ := formula.(map[string]any)
		f := str(fm["formula"])
		names := make([]string, 0, len(queries))
		for n := range queries {
			names = append(names, n)
		}
		// Longest names first, so query1 does not eat into query10.
		slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
		for _, n := range names {
			f = strings.ReplaceAll(f, n, queries[n])
		}
		return f
	}
	good := expand(count["good_events_formula"])
	total := ""
	if count["total_events_formula"] != nil {
		total = expand(count["total_events_formula"])
	} else {
		total = "(" + good + ") + (" + expand(count["bad_events_formula"]) + ")"
	}
	return map[string]any{"numerator": good, "denominator": total}
}

func newSLOID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func pageParams(q url.Values, limitKey, offsetKey string, maxLimit int) (limit, offset int, msg string) {
	limit, offset = -1, 0
	if v := q.Get(limitKey); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxLimit {
			return 0, 0, fmt.Sprintf("%s must be between 0 and %d", limitKey, maxLimit)
		}
		limit = n
	}
	if v := q.Get(offsetKey); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, offsetKey + " must be a non-negative integer"
		}
		offset = n
	}
	return limit, offset, ""
}

// page returns items[offset:offset+limit]; a negative limit means no limit.
func page(items []any, offset, limit int) []any {
	if offset >= len(items) {
		return nil
	}
	items = items[offset:]
	if limit >= 0 && limit < len(items) {
		items = items[:limit]
	}
	return items
}

// sloQueries collects the metric queries of an SLO definition: the numerator and denominator,
// and every "query" string inside its sli_specification.
func sloQueries(b map[string]any) []string {
	var out []string
	if q, ok := b["query"].(map[string]any); ok {
		out = append(out, str(q["numerator"]), str(q["denominator"]))
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if q, ok := e.(string); ok && k == "query" {
					out = append(out, q)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(b["sli_specification"])
	return out
}

var (
	quoted    = regexp.MustCompile(`"[^"]*"|'[^']*'`)
	innermost = regexp.MustCompile(`\([^(){}\[\]]*\)|\{[^(){}\[\]]*\}|\[[^(){}\[\]]*\]`)
)

// parses is Datadog's refusal of a query whose quotes, parentheses, braces or brackets do not
// pair up: quoted strings go first, then innermost pairs until none is left; any delimiter left
// over pairs with nothing.
func parses(q string) bool {
	q = quoted.ReplaceAllString(q, "")
	for {
		next := innermost.ReplaceAllString(q, "")
		if next == q {
			break
		}
		q = next
	}
	return !strings.ContainsAny(q, `()[]{}"'`)
}
