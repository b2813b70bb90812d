package tenancy

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

func TestSumPaceGrowsWithWhatTheLastSumCounted(t *testing.T) {
	p := SumPace()
	cases := []struct {
		summed int
		want   time.Duration
	}{
		{0, time.Second},
		{100, 1400 * time.Millisecond},
		{250, 2 * time.Second},
		{1000, 5 * time.Second},
		{2250, 10 * time.Second},
		{10000, 10 * time.Second}, // never later than Max
	}
	for _, c := range cases {
		p.Summed("payments", c.summed)
		if got := p.Delay("payments"); got != c.want {
			t.Errorf("after summing %d tenants: delay %v, want %v", c.summed, got, c.want)
		}
	}
	if got := p.Delay("search"); got != time.Second {
		t.Errorf("a name never summed: delay %v, want the base 1s", got)
	}
	p.Forget("payments")
	if got := p.Delay("payments"); got != time.Second {
		t.Errorf("a forgotten name: delay %v, want the base 1s", got)
	}
	var none *Pace
	none.Summed("payments", 10) // a reconciler not set up with a manager records nothing
	none.Forget("payments")
}

// During a burst, a name already waiting keeps its time: a later change does not push the sum
// back, so it runs once per delay and never later than one delay after the first change.
func TestOnTenantsRunsTheSumOncePerDelay(t *testing.T) {
	p := SumPace()
	p.Summed("payments", 1000) // 5 s
	clk := testingclock.NewFakeClock(time.Now())
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request](),
		workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Clock: clk})
	defer q.ShutDown()
	h := OnTenants(p, func(t *platformv1alpha1.TenantNamespace) string { return t.Spec.Team }, nil)
	create := func(name string) {
		h.Create(context.Background(), event.CreateEvent{Object: &platformv1alpha1.TenantNamespace{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: platformv1alpha1.TenantNamespaceSpec{Team: "payments"}}}, q)
	}
	create("a")
	clk.Step(4 * time.Second)
	create("b") // alone, it would wait until 9 s
	create("c")
	if n := q.Len(); n != 0 {
		t.Fatalf("%d requests queued 4 s after the first change, want none before the 5 s delay", n)
	}
	clk.Step(time.Second)
	deadline := time.Now().Add(10 * time.Second) // the queue's goroutine moves it; no clock time passes
	for q.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := q.Len(); n != 1 {
		t.Fatalf("%d requests queued 5 s after the first change, want the team's one", n)
	}
	if req, _ := q.Get(); req.Name != "payments" {
		t.Errorf("queued %q, want the team payments", req.Name)
	}
}
