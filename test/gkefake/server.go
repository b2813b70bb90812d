package gkefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	container "google.golang.org/api/container/v1"

	"github.com/selfserve-dev/selfserve/internal/gke"
)

// Server is the fake GKE API.
type Server struct {
	mu       sync.Mutex
	clusters map[string]*container.Cluster // by full name
	version  int
	gets     int
	sets     int
	// conflicts makes the next sets fail as if someone changed the policy meanwhile.
	conflicts int
	// failing answers every request with this status while set (503 during an outage, 403
	// without the IAM role, 429 over quota).
	failing int
	// hang delays every answer by this long while set.
	hang time.Duration
	// clock is the fake's now, for the availability rule and upgrades; the wall clock when nil.
	clock func() time.Time
	// operations are the upgrade operations GKE lists for a location, oldest first.
	operations []*container.Operation
}

// SetClock makes the fake check availability from the instants clock gives.
func (s *Server) SetClock(clock func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = clock
}

func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// HangFor makes every answer wait d (past a client's time-out), until HangFor(0).
func (s *Server) HangFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = d
}

// AddCluster adds a cluster ("projects/p/locations/l/clusters/c") with an empty policy.
func (s *Server) AddCluster(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.clusters[name] = &container.Cluster{Name: gke.ClusterID(name), MaintenancePolicy: &container.MaintenancePolicy{ResourceVersion: s.rv()}}
}

// SetPolicy replaces a cluster's maintenance policy as someone outside selfserve would (the
// console, gcloud): a disruption budget, another kind of window. It gets a new resourceVersion.
func (s *Server) SetPolicy(name string, p *container.MaintenancePolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	cp := *p
	cp.ResourceVersion = s.rv()
	s.clusters[name].MaintenancePolicy = &cp
}

// FailWith makes every request fail with the status code (as GKE does during an outage, or for
// a caller without the role), until FailWith(0).
func (s *Server) FailWith(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = code
}

// New returns a fake holding the named clusters ("projects/p/locations/l/clusters/c").
func New(names ...string) *Server {
	s := &Server{clusters: map[string]*container.Cluster{}}
	for _, n := range names {
		s.AddCluster(n)
	}
	return s
}

// Start serves the fake on a local port.
func (s *Server) Start() *httptest.Server { return httptest.NewServer(s) }

func (s *Server) rv() string { return "rv-" + strconv.Itoa(s.version) }

// SetVersions gives a cluster a control plane version and node pools of the given versions,
// as it was created: its initial version and creation time are set, and no operation is listed.
func (s *Server) SetVersions(name, master string, nodes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[name]
	c.CurrentMasterVersion, c.InitialClusterVersion = master, master
	c.CreateTime = s.now().UTC().Format(time.RFC3339)
	c.NodePools = nil
	for i, v := range nodes {
		c.NodePools = append(c.NodePools, &container.NodePool{Name: fmt.Sprintf("pool-%d", i), Version: v, Status: "RUNNING"})
	}
	c.CurrentNodeVersion = lowest(c.NodePools)
}

// Upgrade upgrades a cluster's control plane and every node pool to version, as GKE's
// auto-upgrade does: an UPGRADE_MASTER and an UPGRADE_NODES operation per pool, ending at the
// fake's now, are listed for its location.
func (s *Server) Upgrade(name, version string) {
	s.UpgradeMaster(name, version)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[name]
	for _, np := range c.NodePools {
		np.Version = version
		s.operation(name, "UPGRADE_NODES", "/nodePools/"+np.Name)
	}
	c.CurrentNodeVersion = lowest(c.NodePools)
}

// UpgradeMaster upgrades only the control plane (the nodes follow later, as on GKE).
func (s *Server) UpgradeMaster(name, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusters[name].CurrentMasterVersion = version
	s.operation(name, "UPGRADE_MASTER", "")
}

// ForgetOperations drops every listed operation, as GKE does some time after they end.
func (s *Server) ForgetOperations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.operations = nil
}

func (s *Server) operation(name, typ, target string) {
	s.version++
	now := s.now().UTC()
	loc := name[:strings.Index(name, "/clusters/")]
	s.operations = append(s.operations, &container.Operation{
		Name: fmt.Sprintf("operation-%d", s.version), OperationType: typ, Status: "DONE",
		Location:   loc[strings.LastIndex(loc, "/")+1:],
		TargetLink: "https://container.googleapis.com/v1/" + name + target,
		SelfLink:   fmt.Sprintf("https://container.googleapis.com/v1/%s/operations/operation-%d", loc, s.version),
		StartTime:  now.Add(-10 * time.Minute).Format(time.RFC3339), EndTime: now.Format(time.RFC3339),
	})
}

func lowest(pools []*container.NodePool) string {
	out := ""
	for _, np := range pools {
		if out == "" || gke.CompareVersions(np.Version, out) < 0 {
			out = np.Version
		}
	}
	return out
}

// ServeHTTP answers GET /v1/{name}, GET /v1/{location}/operations and POST
// /v1/{name}:setMaintenancePolicy.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	s.mu.Lock()
	if hang := s.hang; hang > 0 {
		s.mu.Unlock()
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
			return
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if s.failing != 0 {
		if s.failing == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, s.failing, http.StatusText(s.failing), "the fake is failing on purpose")
		return
	}
	if name, ok := strings.CutSuffix(path, ":setMaintenancePolicy"); ok && r.Method == http.MethodPost {
		s.sets++
		c := s.clusters[name]
		if c == nil {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "cluster "+name+" not found")
			return
		}
		var req container.SetMaintenancePolicyRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MaintenancePolicy == nil {
			writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "maintenancePolicy is required")
			return
		}
		if msg := Refusal(req.MaintenancePolicy, s.now()); msg != "" {
			writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg)
			return
		}
		if s.conflicts > 0 {
			s.conflicts--
			s.version++
			c.MaintenancePolicy.ResourceVersion = s.rv()
		}
		if req.MaintenancePolicy.ResourceVersion != c.MaintenancePolicy.ResourceVersion {
			writeError(w, http.StatusConflict, "ABORTED", fmt.Sprintf("the maintenance policy changed: resourceVersion %q is not the current one", req.MaintenancePolicy.ResourceVersion))
			return
		}
		s.version++
		p := *req.MaintenancePolicy
		p.ResourceVersion = s.rv()
		c.MaintenancePolicy = &p
		writeJSON(w, &container.Operation{Name: "operation-" + strconv.Itoa(s.version), Status: "DONE", OperationType: "SET_MAINTENANCE_POLICY"})
		return
	}
	if loc, ok := strings.CutSuffix(path, "/operations"); ok && r.Method == http.MethodGet {
		s.gets++
		resp := &container.ListOperationsResponse{}
		for _, op := range s.operations {
			if strings.HasPrefix(op.SelfLink, "https://container.googleapis.com/v1/"+loc+"/") {
				resp.Operations = append(resp.Operations, op)
			}
		}
		writeJSON(w, resp)
		return
	}
	if r.Method == http.MethodGet {
		s.gets++
		c := s.clusters[path]
		if c == nil {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "cluster "+path+" not found")
			return
		}
		writeJSON(w, c)
		return
	}
	writeError(w, http.StatusNotFound, "NOT_FOUND", "no such method")
}

// Policy returns a cluster's current maintenance policy.
func (s *Server) Policy(name string) *container.MaintenancePolicy {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clusters[name]; c != nil {
		p := *c.MaintenancePolicy
		return &p
	}
	return nil
}

// Calls returns how many gets and sets were made.
func (s *Server) Calls() (gets, sets int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets, s.sets
}

// ConflictNext makes the next n sets see a policy changed since it was read.
func (s *Server) ConflictNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflicts += n
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in Google's error envelope.
func writeError(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

// Samples returns a fake holding the clusters config/samples names: the production policy's
// cluster, and the staging cluster it follows, which ran the minor of version (a Kubernetes
// version such as "v1.37.2", the local control plane's) and took the next minor 36 hours ago.
func Samples(version string) *Server {
	prod := gke.ClusterName("acme-prod-4711", "europe-west1", "shared-prod")
	staging := gke.ClusterName("acme-staging-42", "europe-west1", "staging")
	s := New(prod, staging)
	var major, minor int
	_, _ = fmt.Sscanf(version, "v%d.%d", &major, &minor)
	at := func(ago time.Duration) { s.SetClock(func() time.Time { return time.Now().Add(-ago) }) }
	at(40 * 24 * time.Hour)
	s.SetVersions(staging, fmt.Sprintf("%d.%d.4-gke.1200", major, minor), fmt.Sprintf("%d.%d.4-gke.1200", major, minor))
	at(36 * time.Hour)
	s.Upgrade(staging, fmt.Sprintf("%d.%d.1-gke.1100", major, minor+1))
	s.SetClock(nil)
	return s
}
