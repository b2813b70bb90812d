package datadog_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/datadog"
	"github.com/selfserve-dev/selfserve/test/datadogfake"
)

// boundary is an External over the fake, with its own inventory, read once.
type boundary struct {
	t    *testing.T
	fake *datadogfake.Server
	c    *datadog.Client
	inv  *datadog.Inventory
	ext  *datadog.External
}

func newBoundary(t *testing.T) *boundary {
	t.Helper()
	b := &boundary{t: t, fake: datadogfake.New(datadogfake.Options{}), inv: datadog.NewInventory()}
	b.c = client(t, b.fake)
	b.ext = datadog.NewExternal(b.c, b.inv, &datadog.Pending{})
	b.refresh()
	return b
}

// refresh re-reads Datadog into the inventory, as the poller does.
func (b *boundary) refresh() {
	b.t.Helper()
	if err := b.inv.Refresh(context.Background(), b.c, time.Now()); err != nil {
		b.t.Fatal(err)
	}
}

// count is how many SLOs and monitors in Datadog carry the CR's UID tag.
func (b *boundary) count(uid string) (slos, monitors int) {
	s, m := b.fake.Tagged(datadog.TagUIDPrefix + uid)
	return len(s), len(m)
}

func crFor(uid string) *platformv1alpha1.ServiceSLO {
	return &platformv1alpha1.ServiceSLO{
		ObjectMeta: metav1.ObjectMeta{Name: "availability", Namespace: "checkout", UID: k8stypes.UID("u-" + uid)},
		Spec: platformv1alpha1.ServiceSLOSpec{
			Service: "checkout",
			Indicator: platformv1alpha1.Indicator{Metric: &platformv1alpha1.MetricIndicator{
				Good: "sum:ok{service:checkout}.as_count()", Total: "sum:all{service:checkout}.as_count()"}},
			Objectives: []platformv1alpha1.Objective{{Timeframe: "30d", Target: "99.9"}},
			Tags:       []string{"Env:Prod"},
		},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestObserveCreateUpdateDeleteAnSLOAndItsMonitors walks the boundary through one CR's life:
// nothing observed, created, up to date, drifted in Datadog and updated back, a tier dropped,
// everything deleted.
func TestObserveCreateUpdateDeleteAnSLOAndItsMonitors(t *testing.T) {
	ctx := context.Background()
	b := newBoundary(t)
	cr := crFor("life")
	uid := string(cr.UID)
	want := datadog.DesiredSLO(cr, "payments", "")

	obs, err := b.ext.ObserveSLO(ctx, uid, "", want)
	must(t, err)
	if obs.Exists {
		t.Fatalf("observed before anything was created: %+v", obs)
	}
	id, err := b.ext.CreateSLO(ctx, uid, want)
	must(t, err)
	b.refresh()
	obs, err = b.ext.ObserveSLO(ctx, uid, id, want)
	must(t, err)
	if !obs.Exists || !obs.UpToDate || obs.ID != id || len(obs.Duplicates) != 0 {
		t.Fatalf("right after the create: %+v", obs)
	}

	tiers, _ := datadog.Tiers(cr)
	ids := map[string]int64{}
	for _, tier := range tiers {
		m := datadog.DesiredMonitor(cr, "payments", "", id, tier, []string{"@slack-payments"})
		obs, err := b.ext.ObserveMonitor(ctx, uid, 0, m)
		must(t, err)
		if obs.Exists {
			t.Fatalf("monitor %s observed before it was created", m.Tier)
		}
		ids[m.Tier], err = b.ext.CreateMonitor(ctx, uid, m)
		must(t, err)
	}
	b.refresh()
	for _, tier := range tiers {
		m := datadog.DesiredMonitor(cr, "payments", "", id, tier, []string{"@slack-payments"})
		obs, err := b.ext.ObserveMonitor(ctx, uid, ids[m.Tier], m)
		must(t, err)
		if !obs.UpToDate || obs.ID != ids[m.Tier] {
			t.Errorf("monitor %s right after its create: %+v", m.Tier, obs)
		}
	}
	if got := b.ext.Tiers(uid); len(got) != 3 {
		t.Errorf("tiers %v, want 3", got)
	}

	// Someone renames the SLO and a monitor in Datadog.
	renamed := datadogV1.NewServiceLevelObjective("renamed", []datadogV1.SLOThreshold{{Timeframe: "30d", Target: 99.9}}, datadogV1.SLOTYPE_METRIC)
	renamed.SetQuery(datadogV1.ServiceLevelObjectiveQuery{Numerator: want.Numerator, Denominator: want.Denominator})
	renamed.SetTags(want.Tags)
	_, err = b.c.UpdateSLO(ctx, id, *renamed)
	must(t, err)
	first := datadog.DesiredMonitor(cr, "payments", "", id, tiers[0], []string{"@slack-payments"})
	rename := datadogV1.NewMonitorUpdateRequest()
	rename.SetName("renamed")
	_, err = b.c.UpdateMonitor(ctx, ids[first.Tier], *rename)
	must(t, err)
	b.refresh()
	obs, err = b.ext.ObserveSLO(ctx, uid, id, want)
	must(t, err)
	if obs.UpToDate || obs.Diff == "" {
		t.Fatalf("a renamed SLO is up to date: %+v", obs)
	}
	must(t, b.ext.UpdateSLO(ctx, uid, id, want))
	mobs, err := b.ext.ObserveMonitor(ctx, uid, ids[first.Tier], first)
	must(t, err)
	if mobs.UpToDate {
		t.Fatal("a renamed monitor is up to date")
	}
	must(t, b.ext.UpdateMonitor(ctx, uid, ids[first.Tier], first))
	b.refresh()
	obs, err = b.ext.ObserveSLO(ctx, uid, id, want)
	must(t, err)
	mobs, err = b.ext.ObserveMonitor(ctx, uid, ids[first.Tier], first)
	must(t, err)
	if !obs.UpToDate || !mobs.UpToDate {
		t.Errorf("after the updates: SLO %+v, monitor %+v", obs, mobs)
	}

	// A tier the spec no longer asks for goes; then everything.
	must(t, b.ext.DeleteMonitor(ctx, uid, first.Tier, ids[first.Tier]))
	if _, monitors := b.count(uid); monitors != 2 {
		t.Errorf("%d monitors after deleting one of 3", monitors)
	}
	if len(b.ext.ErrorBudget(id)) == 0 {
		t.Error("no error budget read for the SLO")
	}
	must(t, b.ext.DeleteAll(ctx, uid, id, []int64{ids[first.Tier]}))
	if slos, monitors := b.count(uid); slos+monitors != 0 {
		t.Errorf("%d SLOs and %d monitors left after DeleteAll", slos, monitors)
	}
	if got := b.ext.Tiers(uid); len(got) != 0 {
		t.Errorf("the inventory still holds tiers %v", got)
	}
}

// TestALostCreateIsFoundNotRepeated: a create stored by Datadog whose answer is lost (a 502 from
// a proxy, or no answer before the time-out) is found by the next Observe, with one list call,
// and nothing is created twice.
func TestALostCreateIsFoundNotRepeated(t *testing.T) {
	ctx := context.Background()
	for name, lose := range map[string]func(*datadogfake.Server, string){
		"502 after storing": func(f *datadogfake.Server, route string) { f.LoseAnswers(route, 1, http.StatusBadGateway) },
		"no answer in time": func(f *datadogfake.Server, route string) { f.HangAfterStoring(route, 1, 3*time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			b := newBoundary(t)
			fakeSrv := b.fake.Start()
			t.Cleanup(fakeSrv.Close)
			c := datadog.NewClient(datadog.Settings{URL: fakeSrv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey, Timeout: time.Second}, datadog.NewPacer())
			ext := datadog.NewExternal(c, b.inv, &datadog.Pending{})
			cr := crFor("lost")
			uid := string(cr.UID)
			want := datadog.DesiredSLO(cr, "payments", "")

			lose(b.fake, "POST /api/v1/slo")
			_, err := ext.CreateSLO(ctx, uid, want)
			if !datadog.IsKind(err, datadog.KindUnknown) {
				t.Fatalf("a lost answer: %v, want OutcomeUnknown", err)
			}
			b.fake.LoseAnswers("POST /api/v1/slo", 0, 0)
			obs, err := ext.ObserveSLO(ctx, uid, "", want)
			must(t, err)
			if !obs.Exists || !obs.UpToDate {
				t.Fatalf("the SLO the lost create made was not found: %+v", obs)
			}
			m := datadog.DesiredMonitor(cr, "payments", "", obs.ID, datadog.Tier{BurnRate: 14.4, Long: "1h", Short: "5m", Severity: "page"}, nil)
			lose(b.fake, "POST /api/v1/monitor")
			if _, err := ext.CreateMonitor(ctx, uid, m); !datadog.IsKind(err, datadog.KindUnknown) {
				t.Fatalf("a lost monitor answer: %v", err)
			}
			b.fake.LoseAnswers("POST /api/v1/monitor", 0, 0)
			mobs, err := ext.ObserveMonitor(ctx, uid, 0, m)
			must(t, err)
			if !mobs.Exists {
				t.Fatal("the monitor the lost create made was not found")
			}
			if slos, monitors := b.count(uid); slos != 1 || monitors != 1 {
				t.Errorf("%d SLOs and %d monitors, want one of each", slos, monitors)
			}
		})
	}
}

// TestDuplicatesAreReportedKeepingTheOneTheStatusNames: two SLOs (and two monitors of one tier)
// carry one CR's tags; Observe keeps the one the status names, else the oldest, and reports the
// other, which Delete removes.
func TestDuplicatesAreReportedKeepingTheOneTheStatusNames(t *testing.T) {
	ctx := context.Background()
	b := newBoundary(t)
	cr := crFor("dup")
	uid := string(cr.UID)
	want := datadog.DesiredSLO(cr, "payments", "")
	older, err := b.ext.CreateSLO(ctx, uid, want)
	must(t, err)
	newer, err := b.ext.CreateSLO(ctx, uid, want)
	must(t, err)
	b.refresh()
	// Created within a second, the two are told apart by ID for "oldest"; what matters is that
	// the status's choice wins and exactly one is reported.
	for _, status := range []string{newer, older, ""} {
		obs, err := b.ext.ObserveSLO(ctx, uid, status, want)
		must(t, err)
		if (status != "" && obs.ID != status) || len(obs.Duplicates) != 1 || obs.Duplicates[0] == obs.ID {
			t.Errorf("status %q: kept %s with duplicates %v", status, obs.ID, obs.Duplicates)
		}
	}
	must(t, b.ext.DeleteSLO(ctx, uid, newer))
	obs, err := b.ext.ObserveSLO(ctx, uid, older, want)
	must(t, err)
	if obs.ID != older || len(obs.Duplicates) != 0 {
		t.Errorf("after deleting the duplicate: %+v", obs)
	}

	m := datadog.DesiredMonitor(cr, "payments", "", older, datadog.Tier{BurnRate: 6, Long: "6h", Short: "30m", Severity: "page"}, nil)
	first, err := b.ext.CreateMonitor(ctx, uid, m)
	must(t, err)
	second, err := b.ext.CreateMonitor(ctx, uid, m)
	must(t, err)
	b.refresh()
	mobs, err := b.ext.ObserveMonitor(ctx, uid, second, m)
	must(t, err)
	if mobs.ID != second || len(mobs.Duplicates) != 1 || mobs.Duplicates[0] != first {
		t.Errorf("monitors: %+v", mobs)
	}
}

// TestAnObjectTheInventoryLacksIsConfirmedWithOneRead: the status names an object the last
// inventory read did not see (created since, or deleted in Datadog); one GET tells which.
func TestAnObjectTheInventoryLacksIsConfirmedWithOneRead(t *testing.T) {
	ctx := context.Background()
	b := newBoundary(t)
	cr := crFor("confirm")
	uid := string(cr.UID)
	want := datadog.DesiredSLO(cr, "payments", "")
	id, err := b.c.CreateSLO(ctx, sloRequest(want))
	must(t, err)
	m := datadog.DesiredMonitor(cr, "payments", "", id.GetId(), datadog.Tier{BurnRate: 3, Long: "24h", Short: "2h", Severity: "ticket"}, nil)
	mon, err := datadog.NewExternal(b.c, datadog.NewInventory(), &datadog.Pending{}).CreateMonitor(ctx, uid, m)
	must(t, err)

	obs, err := b.ext.ObserveSLO(ctx, uid, id.GetId(), want)
	must(t, err)
	mobs, err := b.ext.ObserveMonitor(ctx, uid, mon, m)
	must(t, err)
	if !obs.Exists || !mobs.Exists {
		t.Fatalf("objects the inventory has not read yet: SLO %+v, monitor %+v", obs, mobs)
	}
	must(t, b.c.DeleteMonitor(ctx, mon))
	must(t, b.c.DeleteSLO(ctx, id.GetId()))
	b.refresh()
	obs, err = b.ext.ObserveSLO(ctx, uid, id.GetId(), want)
	must(t, err)
	mobs, err = b.ext.ObserveMonitor(ctx, uid, mon, m)
	must(t, err)
	if obs.Exists || mobs.Exists {
		t.Errorf("objects deleted in Datadog: SLO %+v, monitor %+v", obs, mobs)
	}
}

// sloRequest builds the create request of a desired SLO outside the boundary (as another tool
// would), for tests that need an object the boundary did not make.
func sloRequest(s datadog.SLO) datadogV1.ServiceLevelObjectiveRequest {
	var ths []datadogV1.SLOThreshold
	for _, t := range s.Thresholds {
		ths = append(ths, datadogV1.SLOThreshold{Timeframe: datadogV1.SLOTimeframe(t.Timeframe), Target: t.Target})
	}
	req := datadogV1.NewServiceLevelObjectiveRequest(s.Name, ths, datadogV1.SLOType(s.Type))
	req.SetQuery(datadogV1.ServiceLevelObjectiveQuery{Numerator: s.Numerator, Denominator: s.Denominator})
	req.SetTags(s.Tags)
	return *req
}

// TestAnUnknownCreateIsNotRepeatedBeforeItSettles: with lists that show an object 1 s after it
// was stored, a create whose answer was lost after storing is not sent again while the list
// does not show it, and is adopted once it does; a create refused before storing (the same 502
// to the client) is sent again only after its settle window (time-out 1 s + settle 1 s), and a
// deletion waits for it too.
func TestAnUnknownCreateIsNotRepeatedBeforeItSettles(t *testing.T) {
	ctx := context.Background()
	fake := datadogfake.New(datadogfake.Options{})
	srv := fake.Start()
	t.Cleanup(srv.Close)
	c := datadog.NewClient(datadog.Settings{URL: srv.URL, APIKey: datadogfake.DefaultAPIKey, AppKey: datadogfake.DefaultAppKey,
		Timeout: time.Second, Settle: time.Second}, datadog.NewPacer())
	inv := datadog.NewInventory()
	must(t, inv.Refresh(ctx, c, time.Now()))
	pending := &datadog.Pending{}
	ext := datadog.NewExternal(c, inv, pending)
	fake.SetListLag("GET /api/v1/slo", time.Second)

	stored := crFor("stored")
	want := datadog.DesiredSLO(stored, "payments", "")
	fake.LoseAnswers("POST /api/v1/slo", 1, http.StatusBadGateway)
	if _, err := ext.CreateSLO(ctx, string(stored.UID), want); !datadog.IsKind(err, datadog.KindUnknown) {
		t.Fatalf("create with a lost answer: %v, want an unknown outcome", err)
	}
	fake.LoseAnswers("POST /api/v1/slo", 0, 0)
	if _, err := ext.ObserveSLO(ctx, string(stored.UID), "", want); !datadog.IsKind(err, datadog.KindUnknown) {
		t.Errorf("observed while the list does not show the stored SLO yet: %v, want the unknown outcome again", err)
	}
	if len(pending.Records(string(stored.UID))) != 1 {
		t.Errorf("records %v, want the create's", pending.Records(string(stored.UID)))
	}
	time.Sleep(1100 * time.Millisecond)
	obs, err := ext.ObserveSLO(ctx, string(stored.UID), "", want)
	if err != nil || !obs.Exists {
		t.Errorf("once listed, the stored SLO is adopted: %+v %v", obs, err)
	}
	if n := len(pending.Records(string(stored.UID))); n != 0 {
		t.Errorf("%d records left after the adoption", n)
	}

	refused := crFor("refused")
	want = datadog.DesiredSLO(refused, "payments", "")
	fake.FailNext("POST /api/v1/slo", http.StatusBadGateway)
	_, err = ext.CreateSLO(ctx, string(refused.UID), want)
	var unknown *datadog.Error
	if !errors.As(err, &unknown) || unknown.Kind != datadog.KindUnknown {
		t.Fatalf("create answered 502: %v, want an unknown outcome", err)
	}
	sent := pending.Records(string(refused.UID))[""]
	_, err = ext.ObserveSLO(ctx, string(refused.UID), "", want)
	if !errors.As(err, &unknown) || unknown.Kind != datadog.KindUnknown || unknown.RetryAfter <= time.Second {
		t.Errorf("observed before it settled: %v, want the unknown outcome with more than 1 s to wait", err)
	}
	if err := ext.DeleteAll(ctx, string(refused.UID), "", nil); !datadog.IsKind(err, datadog.KindUnknown) {
		t.Errorf("deleting before it settled: %v, want to be told to wait", err)
	}
	time.Sleep(time.Until(sent.Add(2 * time.Second)))
	obs, err = ext.ObserveSLO(ctx, string(refused.UID), "", want)
	if err != nil || obs.Exists {
		t.Errorf("after the settle window: %+v %v, want no SLO and no error (free to create)", obs, err)
	}
	must(t, ext.DeleteAll(ctx, string(refused.UID), "", nil))
	if slos, _ := fake.Tagged(datadog.TagUIDPrefix + string(refused.UID)); len(slos) != 0 {
		t.Errorf("the refused create left %d SLOs", len(slos))
	}
}
