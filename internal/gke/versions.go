package gke

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Versions is what GKE says about a cluster's versions.
type Versions struct {
	// Master is the control plane's version.
	Master string
	// Lowest is the lowest of it and the node pools' versions: what the whole cluster has run.
	Lowest string
	// Since is when the cluster's last upgrade (of its control plane or a node pool) ended, or
	// when it was created at the version it still runs; zero when GKE no longer lists that
	// operation.
	Since time.Time
}

// upgradeOperations are the operations that change a cluster's versions.
var upgradeOperations = map[string]bool{"UPGRADE_MASTER": true, "UPGRADE_NODES": true}

// Versions reads a cluster's versions and when they last changed: the cluster, and the
// operations of its location (GKE keeps them for a while after they end).
func (c *Client) Versions(ctx context.Context, name string) (Versions, error) {
	cluster, err := c.svc.Projects.Locations.Clusters.Get(name).Context(ctx).Do()
	if err != nil {
		return Versions{}, fmt.Errorf("reading %s: %w", name, err)
	}
	v := Versions{Master: cluster.CurrentMasterVersion, Lowest: cluster.CurrentMasterVersion}
	for _, np := range cluster.NodePools {
		if np.Version != "" && CompareVersions(np.Version, v.Lowest) < 0 {
			v.Lowest = np.Version
		}
	}
	location := name[:strings.Index(name, "/clusters/")]
	ops, err := c.svc.Projects.Locations.Operations.List(location).Context(ctx).Do()
	if err != nil {
		return Versions{}, fmt.Errorf("listing the operations of %s: %w", location, err)
	}
	for _, op := range ops.Operations {
		if !upgradeOperations[op.OperationType] || op.Status != "DONE" || !targets(op.TargetLink, name) {
			continue
		}
		if end, err := time.Parse(time.RFC3339, op.EndTime); err == nil && end.After(v.Since) {
			v.Since = end
		}
	}
	if v.Since.IsZero() && cluster.InitialClusterVersion != "" && CompareVersions(cluster.InitialClusterVersion, v.Lowest) == 0 {
		if created, err := time.Parse(time.RFC3339, cluster.CreateTime); err == nil {
			v.Since = created
		}
	}
	return v, nil
}

// targets reports whether an operation's target link is the cluster or one of its node pools.
// The link's project may be the project's number, so it is matched from the location on.
func targets(link, name string) bool {
	_, rest, ok := strings.Cut(link, "/locations/"+locationID(name)+"/clusters/"+ClusterID(name))
	return ok && (rest == "" || strings.HasPrefix(rest, "/"))
}

// ClusterID is the last part of a cluster's API name.
func ClusterID(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func locationID(name string) string {
	_, rest, _ := strings.Cut(name, "/locations/")
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// version is a Kubernetes version as GKE and API discovery write it: "1.33.2-gke.1100000",
// "v1.33.2".
type version struct {
	major, minor, patch, build int
	ok                         bool
}

func parseVersion(s string) version {
	s = strings.TrimPrefix(s, "v")
	core, suffix, _ := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) < 2 {
		return version{}
	}
	var n [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		v, err := strconv.Atoi(parts[i])
		if err != nil {
			return version{}
		}
		n[i] = v
	}
	out := version{major: n[0], minor: n[1], patch: n[2], ok: true}
	if b, ok := strings.CutPrefix(suffix, "gke."); ok {
		out.build, _ = strconv.Atoi(b)
	}
	return out
}

// CompareVersions orders two versions (-1, 0, +1), the gke.N build last; a version that cannot
// be read is the lowest.
func CompareVersions(a, b string) int {
	va, vb := parseVersion(a), parseVersion(b)
	switch {
	case !va.ok && !vb.ok:
		return 0
	case !va.ok:
		return -1
	case !vb.ok:
		return 1
	}
	for _, d := range [][2]int{{va.major, vb.major}, {va.minor, vb.minor}, {va.patch, vb.patch}, {va.build, vb.build}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// CompareMinors orders the minor versions of two versions (1.33 against 1.32).
func CompareMinors(a, b string) int {
	va, vb := parseVersion(a), parseVersion(b)
	return CompareVersions(fmt.Sprintf("%d.%d", va.major, va.minor), fmt.Sprintf("%d.%d", vb.major, vb.minor))
}
