package serviceslo_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// exactlyOnce creates n ServiceSLOs in namespace while lose makes Datadog lose answers, waits
// until all are synced, stops the losses, and checks that Datadog holds exactly one SLO and one monitor per tier
// for each; then, after polls more inventory reads, it deletes them all and checks that nothing
// of theirs is left. From the moment all are synced until the last is gone, Datadog is sampled
// every 50 ms: no sample may show a duplicate.
func exactlyOnce(t *testing.T, namespace string, n, polls int, lose func()) {
	t.Helper()
	ctx := context.Background()
	tenantNamespace(t, namespace, namespace)
	lose()
	var created []*platformv1alpha1.ServiceSLO
	for i := range n {
		slo := newSLO(namespace, fmt.Sprintf("svc-%02d", i))
		Must(t, admin.Create(ctx, slo))
		created = append(created, slo)
	}
	for i, slo := range created {
		created[i] = waitSynced(t, slo)
	}
	// Answers are no longer lost (lost and hanging answers share one switch per route).
	fake.LoseAnswers("POST /api/v1/slo", 0, 0)
	fake.LoseAnswers("POST /api/v1/monitor", 0, 0)
	for _, slo := range created {
		slos, monitors := objectsOf(string(slo.UID))
		if len(slos) != 1 || len(monitors) != 3 {
			t.Errorf("%s: Datadog holds %d SLOs and %d monitors with its tag, want 1 and 3", slo.Name, len(slos), len(monitors))
		}
	}
	stop, sampled := sampleDuplicates(created)
	searches := fake.Requests()["GET /api/v1/slo/search"]
	Eventually(t, time.Minute, fmt.Sprintf("%d more polls", polls), func() bool {
		return fake.Requests()["GET /api/v1/slo/search"] >= searches+polls
	})
	for _, slo := range created {
		Must(t, admin.Delete(ctx, slo))
	}
	for _, slo := range created {
		Eventually(t, time.Minute, slo.Name+" is gone", func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(slo), &platformv1alpha1.ServiceSLO{}))
		})
		if slos, monitors := objectsOf(string(slo.UID)); len(slos)+len(monitors) != 0 {
			t.Errorf("%s deleted: %d SLOs and %d monitors left in Datadog", slo.Name, len(slos), len(monitors))
		}
	}
	close(stop)
	if res := <-sampled; res.duplicates > 0 {
		t.Errorf("%d of %d samples after convergence showed a duplicate, the first: %s", res.duplicates, res.samples, res.first)
	} else {
		t.Logf("%d samples of Datadog after convergence, none with a duplicate", res.samples)
	}
}

type samples struct {
	samples, duplicates int
	first               string
}

// sampleDuplicates reads the fake every 50 ms until stop is closed, counting the samples in
// which a CR has more than one SLO, or more than three monitors.
func sampleDuplicates(crs []*platformv1alpha1.ServiceSLO) (stop chan struct{}, result chan samples) {
	stop, result = make(chan struct{}), make(chan samples, 1)
	go func() {
		var res samples
		defer func() { result <- res }()
		for {
			res.samples++
			for _, cr := range crs {
				if slos, monitors := objectsOf(string(cr.UID)); len(slos) > 1 || len(monitors) > 3 {
					if res.duplicates++; res.first == "" {
						res.first = fmt.Sprintf("%s with %d SLOs and %d monitors", cr.Name, len(slos), len(monitors))
					}
					break
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return stop, result
}

// TestLostCreateAnswersMakeNoDuplicateAndLeaveNoOrphan: of 50 ServiceSLOs (150 monitors), every
// 4th create reaches Datadog and then its answer is lost (a 502 from a proxy). The inventory is
// not re-read meanwhile (a 10-minute poll), so only looking before re-creating prevents the
// duplicates.
func TestLostCreateAnswersMakeNoDuplicateAndLeaveNoOrphan(t *testing.T) {
	startOperator(t, true, 10*time.Minute)
	exactlyOnce(t, "lossy", 50, 0, func() {
		fake.LoseAnswers("POST /api/v1/slo", 4, http.StatusBadGateway)
		fake.LoseAnswers("POST /api/v1/monitor", 4, http.StatusBadGateway)
	})
}

// TestCreatesThatTimeOutMakeNoDuplicateAndLeaveNoOrphan: of 50 ServiceSLOs, 12 SLO creates and
// 36 monitor creates are stored and answered only after the client has given up.
func TestCreatesThatTimeOutMakeNoDuplicateAndLeaveNoOrphan(t *testing.T) {
	runOperator(t, 10*time.Minute, datadog.Settings{Site: datadog.DefaultSite, URL: srv.URL,
		APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey, Timeout: time.Second, Settle: time.Second})
	exactlyOnce(t, "slowpoke", 50, 0, func() {
		fake.HangAfterStoring("POST /api/v1/slo", 12, 2*time.Second)
		fake.HangAfterStoring("POST /api/v1/monitor", 36, 2*time.Second)
	})
}

// TestLostAnswersWithStrictSmallPagesMakeNoDuplicate: the same with Datadog answering every
// read in pages of 7 and the inventory re-read every second while answers are lost, so the
// look-ups after a lost create and the polls all go through many short pages.
func TestLostAnswersWithStrictSmallPagesMakeNoDuplicate(t *testing.T) {
	fake.SetPageSize(7)
	defer fake.SetPageSize(0)
	startOperator(t, true, time.Second)
	exactlyOnce(t, "pagedloss", 50, 3, func() {
		fake.LoseAnswers("POST /api/v1/slo", 3, http.StatusBadGateway)
		fake.LoseAnswers("POST /api/v1/monitor", 5, http.StatusServiceUnavailable)
	})
}

// TestDuplicatesInDatadogAreDeleted: a duplicate that is already in Datadog (left by an older
// version, or a crash) is found by the inventory, deleted, and reported; the SLO the status
// names is the one kept.
func TestDuplicatesInDatadogAreDeleted(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Second)
	tenantNamespace(t, "twins", "twins")
	slo := newSLO("twins", "checkout-availability")
	Must(t, admin.Create(ctx, slo))
	got := waitSynced(t, slo)
	dd := datadog.NewClient(datadog.Settings{URL: srv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey}, datadog.NewPacer())
	twin := datadogV1.NewServiceLevelObjectiveRequest("twin", []datadogV1.SLOThreshold{{Timeframe: datadogV1.SLOTIMEFRAME_THIRTY_DAYS, Target: 99.9}}, datadogV1.SLOTYPE_METRIC)
	twin.SetQuery(datadogV1.ServiceLevelObjectiveQuery{Numerator: "sum:a{*}.as_count()", Denominator: "sum:b{*}.as_count()"})
	twin.SetTags([]string{datadog.TagManaged, datadog.TagUIDPrefix + string(got.UID)})
	dup, err := dd.CreateSLO(ctx, *twin)
	Must(t, err)
	Eventually(t, 30*time.Second, "the duplicate SLO is deleted", func() bool {
		slos, _ := objectsOf(string(got.UID))
		return len(slos) == 1 && slos[0]["id"] == got.Status.SLOID
	})
	note := waitEventOf(t, got, "DuplicateDeleted")
	if want := "Deleted SLO " + dup.GetId(); len(note) < len(want) || note[:len(want)] != want {
		t.Errorf("event %q, want it to name %s", note, dup.GetId())
	}
}

// waitEventOf waits for an event about the object with the reason, and returns its note.
func waitEventOf(t *testing.T, obj client.Object, reason string) string {
	t.Helper()
	var note string
	Eventually(t, 20*time.Second, "an event "+reason+" on "+obj.GetName(), func() bool {
		var list eventsv1.EventList
		Must(t, admin.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())))
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() && e.Reason == reason {
				note = e.Note
				return true
			}
		}
		return false
	})
	return note
}

// TestTagsInUpperCaseAreNoDrift: Datadog stores tags lower case. A ServiceSLO tagged Env:Prod
// is synced once, and the polls after it find nothing to put back.
func TestTagsInUpperCaseAreNoDrift(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Second)
	tenantNamespace(t, "cased", "cased")
	slo := newSLO("cased", "checkout-availability")
	slo.Spec.Tags = []string{"Env:Prod"}
	Must(t, admin.Create(ctx, slo))
	slo = waitSynced(t, slo)
	waitDashboardShows(t, "cased", slo.Status.SLOID) // its team's dashboard follows it
	fake.ResetRequests()
	Eventually(t, 30*time.Second, "three polls", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= 3 })
	for route, n := range fake.Requests() {
		if strings.HasPrefix(route, "PUT ") || strings.HasPrefix(route, "POST ") {
			t.Errorf("%d × %s in three polls of an unchanged ServiceSLO", n, route)
		}
	}
}

// TestSmallPagesAreReadWhole: Datadog answers the operator's reads in pages of 7, smaller
// than it asks for. The inventory still sees every object, so the polls after the creation
// neither create anything again nor read objects one by one.
func TestSmallPagesAreReadWhole(t *testing.T) {
	ctx := context.Background()
	fake.SetPageSize(7)
	defer fake.SetPageSize(0)
	startOperator(t, true, time.Second)
	tenantNamespace(t, "paged", "paged")
	var created []*platformv1alpha1.ServiceSLO
	for i := range 20 {
		slo := newSLO("paged", fmt.Sprintf("svc-%02d", i))
		Must(t, admin.Create(ctx, slo))
		created = append(created, slo)
	}
	for i, slo := range created {
		created[i] = waitSynced(t, slo)
	}
	for _, slo := range created {
		waitDashboardShows(t, "paged", slo.Status.SLOID) // the team's dashboard follows them
	}
	fake.ResetRequests()
	Eventually(t, 30*time.Second, "three polls", func() bool { return fake.Requests()["GET /api/v1/slo/search"] >= 3*3 })
	for route, n := range fake.Requests() {
		// An object the inventory missed would be read one by one (or created again).
		if strings.HasPrefix(route, "POST ") || route == "GET /api/v1/slo/{id}" || route == "GET /api/v1/monitor/{id}" {
			t.Errorf("%d × %s in three polls after everything was synced: the inventory missed objects", n, route)
		}
	}
	for _, slo := range created {
		if slos, monitors := objectsOf(string(slo.UID)); len(slos) != 1 || len(monitors) != 3 {
			t.Errorf("%s: %d SLOs and %d monitors, want 1 and 3", slo.Name, len(slos), len(monitors))
		}
	}
}

// TestEveryCreateIsAnEventOfItsOwn: the SLO and its three monitors are created in one reconcile
// with the same reason and action; the apiserver holds four Events, one per note, as kubectl
// describe shows them (client-go's recorder kept only the first note, "x4").
func TestEveryCreateIsAnEventOfItsOwn(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Hour)
	tenantNamespace(t, "told", "told")
	slo := newSLO("told", "checkout-availability")
	Must(t, admin.Create(ctx, slo))
	got := waitSynced(t, slo)
	want := []string{"Created SLO " + got.Status.SLOID + " in Datadog"}
	for _, m := range got.Status.Monitors {
		want = append(want, fmt.Sprintf("Created burn-rate monitor %d (%s) in Datadog", m.ID, m.Tier))
	}
	Eventually(t, 20*time.Second, "an Event per create", func() bool {
		var list eventsv1.EventList
		Must(t, admin.List(ctx, &list, client.InNamespace("told")))
		notes := map[string]bool{}
		for _, e := range list.Items {
			if e.Regarding.Name == slo.Name && e.Reason == "Synced" && e.Action == "Create" {
				notes[e.Note] = true
			}
		}
		for _, w := range want {
			if !notes[w] {
				return false
			}
		}
		return len(notes) == len(want)
	})
}

// createThenDelete creates n ServiceSLOs in namespace while Datadog behaves as setup makes it,
// deletes them all after, and waits until they are gone and everything Datadog may still
// store late has landed (settle). From the first create to the end, Datadog is sampled every
// 50 ms: no sample may show a CR with two SLOs or more than three monitors, and nothing of
// theirs may be left at the end.
func createThenDelete(t *testing.T, namespace string, n int, after, settle time.Duration, setup func()) {
	t.Helper()
	ctx := context.Background()
	tenantNamespace(t, namespace, namespace)
	setup()
	crs := make([]*platformv1alpha1.ServiceSLO, n)
	for i := range crs {
		crs[i] = newSLO(namespace, fmt.Sprintf("svc-%03d", i))
	}
	Must(t, Parallel(n, 16, func(i int) error { return admin.Create(ctx, crs[i]) }))
	stop, sampled := sampleDuplicates(crs)
	time.Sleep(after)
	Must(t, Parallel(n, 16, func(i int) error { return admin.Delete(ctx, crs[i]) }))
	start := time.Now()
	for _, slo := range crs {
		Eventually(t, 2*time.Minute, slo.Name+" is gone", func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(slo), &platformv1alpha1.ServiceSLO{}))
		})
	}
	t.Logf("%d ServiceSLOs deleted %s after their creation were gone %s later", n, after, time.Since(start).Round(time.Second))
	time.Sleep(settle)
	close(stop)
	if res := <-sampled; res.duplicates > 0 {
		t.Errorf("%d of %d samples showed a duplicate, the first: %s", res.duplicates, res.samples, res.first)
	}
	orphans := 0
	for _, slo := range crs {
		slos, monitors := objectsOf(string(slo.UID))
		orphans += len(slos) + len(monitors)
		for _, o := range append(slos, monitors...) {
			t.Logf("left: %s %v %v created %v", slo.Name, o["id"], o["tags"], o["created_at"])
		}
		if len(slos)+len(monitors) > 0 {
			var list eventsv1.EventList
			Must(t, admin.List(ctx, &list, client.InNamespace(namespace)))
			for _, e := range list.Items {
				if e.Regarding.Name == slo.Name {
					t.Logf("  event %s %s %s %s", e.CreationTimestamp.Format("15:04:05"), e.Reason, e.Action, e.Note)
				}
			}
		}
	}
	if orphans > 0 {
		t.Errorf("%d SLOs and monitors of the %d deleted ServiceSLOs are left in Datadog", orphans, n)
	}
}

// eventuallyConsistent runs the operator with a 1 s time-out and a 6 s settle window, polling
// every 2 s, and undoes setup's faults when the test ends.
func eventuallyConsistent(t *testing.T) {
	t.Helper()
	runOperator(t, 2*time.Second, datadog.Settings{Site: datadog.DefaultSite, URL: srv.URL,
		APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey, Timeout: time.Second, Settle: 6 * time.Second})
	t.Cleanup(func() {
		for _, route := range []string{"GET /api/v1/slo", "GET /api/v1/monitor", "GET /api/v1/slo/search"} {
			fake.SetListLag(route, 0)
		}
		fake.LoseAnswers("POST /api/v1/slo", 0, 0)
		fake.LoseAnswers("POST /api/v1/monitor", 0, 0)
	})
}

// TestListsThatLagWithLostCreatesLeaveNothing: Datadog's lists and search show an object 5 s
// after it was stored, and every 5th create is stored and then answered 502. 300 ServiceSLOs
// are created and deleted 3 s later: nothing is created twice, nothing is left.
func TestListsThatLagWithLostCreatesLeaveNothing(t *testing.T) {
	eventuallyConsistent(t)
	createThenDelete(t, "lagging", 300, 3*time.Second, 0, func() {
		for _, route := range []string{"GET /api/v1/slo", "GET /api/v1/monitor", "GET /api/v1/slo/search"} {
			fake.SetListLag(route, 5*time.Second)
		}
		fake.LoseAnswers("POST /api/v1/slo", 5, http.StatusBadGateway)
		fake.LoseAnswers("POST /api/v1/monitor", 5, http.StatusBadGateway)
	})
}

// TestCreatesStoredLateLeaveNothing: 30 SLO and 90 monitor creates get no answer; Datadog
// stores each 2 s after it arrived, 1 s after the client gave up. 300 ServiceSLOs are created
// and deleted 3 s later: nothing is created twice, nothing is left once the late ones landed.
func TestCreatesStoredLateLeaveNothing(t *testing.T) {
	eventuallyConsistent(t)
	createThenDelete(t, "late", 300, 3*time.Second, 3*time.Second, func() {
		fake.StoreLate("POST /api/v1/slo", 30, 2*time.Second)
		fake.StoreLate("POST /api/v1/monitor", 90, 2*time.Second)
	})
}

// TestPagesThatRepeatLeaveNothing: Datadog pages by 50, reports the page size as its total
// (as recorded), answers 30 % of page reads with the page before, and every 5th create is
// stored and then answered 502. 300 ServiceSLOs are created and deleted 3 s later: nothing is
// created twice, nothing is left.
func TestPagesThatRepeatLeaveNothing(t *testing.T) {
	eventuallyConsistent(t)
	t.Cleanup(func() {
		fake.SetPageSize(0)
		fake.SetRepeatPageRate(0)
	})
	createThenDelete(t, "repeating", 300, 3*time.Second, 0, func() {
		fake.SetPageSize(50)
		fake.SetRepeatPageRate(0.3)
		fake.LoseAnswers("POST /api/v1/slo", 5, http.StatusBadGateway)
		fake.LoseAnswers("POST /api/v1/monitor", 5, http.StatusBadGateway)
	})
}

// TestEachMonitorIsInStatusAsSoonAsItExists: the second monitor create of a ServiceSLO is
// refused (400), which stops the reconcile; the first monitor's ID is in status already, so
// nothing but the inventory's memory has to find it again.
func TestEachMonitorIsInStatusAsSoonAsItExists(t *testing.T) {
	ctx := context.Background()
	startOperator(t, true, time.Hour)
	tenantNamespace(t, "halfway", "halfway")
	refusals := make([]int, 50)
	for i := range refusals {
		refusals[i] = http.StatusBadRequest
	}
	fake.FailNext("POST /api/v1/monitor", append([]int{0}, refusals...)...)
	t.Cleanup(fake.ClearFailures)
	slo := newSLO("halfway", "checkout-availability")
	Must(t, admin.Create(ctx, slo))
	got := &platformv1alpha1.ServiceSLO{}
	Eventually(t, 30*time.Second, "the refusal is reported", func() bool {
		Must(t, admin.Get(ctx, client.ObjectKeyFromObject(slo), got))
		c := meta.FindStatusCondition(got.Status.Conditions, platformv1alpha1.ConditionSynced)
		return c != nil && c.Reason == "DatadogInvalid"
	})
	_, monitors := objectsOf(string(got.UID))
	if len(monitors) != 1 || len(got.Status.Monitors) != 1 || fmt.Sprint(got.Status.Monitors[0].ID) != fmt.Sprint(monitors[0]["id"]) {
		t.Errorf("Datadog holds %d monitors, status names %v: want the one created", len(monitors), got.Status.Monitors)
	}
}
