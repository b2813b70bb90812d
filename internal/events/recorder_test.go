package events

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// TestDistinctNotesAreDistinctEvents: notes that differ are Events of their own, even with the
// same object, reason and action; the same note again within the series window is counted in
// the first Event's series, not written anew.
func TestDistinctNotesAreDistinctEvents(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).Build()
	r := NewRecorder(c, scheme, "selfserve")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Start(ctx) }()

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}}
	for _, m := range []string{"monitor 1", "monitor 2", "monitor 3", "monitor 1", "monitor 1"} {
		r.Eventf(pod, nil, corev1.EventTypeNormal, "Synced", "Create", "Created %s", m)
	}
	var list eventsv1.EventList
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := c.List(ctx, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var notes []string
	for _, e := range list.Items {
		notes = append(notes, e.Note)
		if e.Regarding.Name != "p" || e.Reason != "Synced" || e.Action != "Create" || e.ReportingController != "selfserve" {
			t.Errorf("event %+v", e)
		}
	}
	sort.Strings(notes)
	if len(notes) != 3 || notes[0] != "Created monitor 1" || notes[2] != "Created monitor 3" {
		t.Errorf("notes %v, want one Event per distinct note", notes)
	}
	r.mu.Lock()
	for k, s := range r.series {
		if k.note == "Created monitor 1" && s.count != 3 {
			t.Errorf("series of the repeated note counts %d, want 3", s.count)
		}
	}
	r.mu.Unlock()

	// Repeats that came too soon to be written are written by the periodic pass.
	r.forgetEnded(time.Now())
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := c.List(ctx, &list); err != nil {
			t.Fatal(err)
		}
		var count int32
		for _, e := range list.Items {
			if e.Note == "Created monitor 1" && e.Series != nil {
				count = e.Series.Count
			}
		}
		if count == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the apiserver holds a series count of %d for the repeated note, want 3", count)
		}
	}
}

// BenchmarkSeriesHeld reports the heap the recorder keeps per Event for its series window
// (`go test ./internal/events -run '^$' -bench SeriesHeld -benchtime 20000x`): every
// TenantNamespace created says "Created namespace …" about the tenant and in its namespace, and
// each is held six minutes to fold repeats.
func BenchmarkSeriesHeld(b *testing.B) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		b.Fatal(err)
	}
	discard := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).Build(), interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error { return nil },
	})
	r := NewRecorder(discard, scheme, "selfserve")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Start(ctx) }()
	objects := make([]*corev1.Namespace, b.N)
	for i := range objects {
		objects[i] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("tenant-%05d", i), UID: types.UID(fmt.Sprintf("uid-%05d", i))}}
	}
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		r.Eventf(objects[i], nil, corev1.EventTypeNormal, "Provisioned", "Create", "Created namespace %s for team %s", objects[i].Name, "payments")
		if i%500 == 499 {
			time.Sleep(time.Millisecond) // let the writers drain, as the apiserver would
		}
	}
	b.StopTimer()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		queued := 0
		for _, q := range r.writes {
			queued += len(q)
		}
		if queued == 0 {
			break
		}
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	r.mu.Lock()
	held := len(r.series)
	r.mu.Unlock()
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(held), "heap-bytes/series")
	goruntime.KeepAlive(objects)
}
