package e2e

import (
	"testing"

	"github.com/selfserve-dev/selfserve/test/controlplane"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	"github.com/selfserve-dev/selfserve/test/gkefake"
)

// sampleFakes starts the Datadog fake and a GKE fake serving the clusters the sample upgrade
// policy names; both stop when the test ends. gkeEndpoint is what --gke-endpoint takes.
func sampleFakes(t *testing.T) (dd *datadogfake.Server, ddURL, gkeEndpoint string) {
	t.Helper()
	dd = datadogfake.New(datadogfake.Options{})
	ddSrv := dd.Start()
	t.Cleanup(ddSrv.Close)
	gkeSrv := gkefake.Samples(controlplane.Version).Start()
	t.Cleanup(gkeSrv.Close)
	return dd, ddSrv.URL, gkeSrv.URL + "/"
}
