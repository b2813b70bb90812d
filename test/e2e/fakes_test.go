package e2e

import (
	"testing"

	"github.com/selfserve-dev/selfserve/internal/gke"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	"github.com/selfserve-dev/selfserve/test/gkefake"
)

// sampleFakes starts the Datadog fake and a GKE fake serving the cluster the sample upgrade
// policy names; both stop when the test ends. gkeEndpoint is what --gke-endpoint takes.
func sampleFakes(t *testing.T) (dd *datadogfake.Server, ddURL, gkeEndpoint string) {
	t.Helper()
	dd = datadogfake.New(datadogfake.Options{})
	ddSrv := dd.Start()
	t.Cleanup(ddSrv.Close)
	gkeSrv := gkefake.New(gke.ClusterName("acme-prod-4711", "europe-west1", "shared-prod")).Start()
	t.Cleanup(gkeSrv.Close)
	return dd, ddSrv.URL, gkeSrv.URL + "/"
}
