package events

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/reference"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// seriesWindow is how long after its last occurrence an Event can still be repeated into
	// its series (client-go's finishTime).
	seriesWindow = 6 * time.Minute
	// seriesWrite bounds how often a repeating Event's count is written.
	seriesWrite = 30 * time.Second
	// maxNote is the API's limit on an Event's note.
	maxNote = 1024
	// queued bounds the Events waiting to be written, per writer; beyond it, Events are dropped
	// (logged) rather than holding a reconcile up.
	queued = 1000
	// writers write Events concurrently (a thousand tenants created at once say a thousand
	// things); an Event and the updates of its series always go to the same writer, in order.
	writers = 8
)

// Recorder writes Events. Eventf never blocks: the writes happen in Start's loop, which the
// manager runs.
type Recorder struct {
	client     client.Client
	scheme     *runtime.Scheme
	controller string
	instance   string

	writes [writers]chan write
	mu     sync.Mutex
	series map[key]*series
}

type key struct {
	uid                                  types.UID
	namespace, typ, reason, action, note string
}

// series is what the recorder keeps of an Event for its window: where it is, and its counts.
// Not the Event itself (about 1 KiB): a series update patches only the count, and every tenant
// created leaves two series behind for six minutes.
type series struct {
	name, namespace string
	count           int32
	last, wrote     time.Time
	// written is the count the apiserver has.
	written int32
}

type write struct {
	event  *eventsv1.Event
	update bool
}

// NewRecorder returns a recorder reporting as controller (the Events' reportingController).
func NewRecorder(c client.Client, scheme *runtime.Scheme, controller string) *Recorder {
	host, _ := os.Hostname()
	r := &Recorder{client: c, scheme: scheme, controller: controller, instance: controller + "-" + host, series: map[key]*series{}}
	for i := range r.writes {
		r.writes[i] = make(chan write, queued)
	}
	return r
}

// Eventf records an Event about regarding (and optionally related): type Normal or Warning, a
// reason, the action taken, and a note.
func (r *Recorder) Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref, err := reference.GetReference(r.scheme, regarding)
	if err != nil {
		ctrl.Log.WithName("events").Error(err, "Recording an event about an object without a reference", "reason", reason)
		return
	}
	msg := fmt.Sprintf(note, args...)
	if len(msg) > maxNote {
		msg = msg[:maxNote-3] + "..."
	}
	now := time.Now()
	k := key{ref.UID, ref.Namespace, eventtype, reason, action, msg}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.series[k]; ok && now.Sub(s.last) < seriesWindow {
		s.count++
		s.last = now
		if now.Sub(s.wrote) >= seriesWrite {
			r.writeSeries(s, now)
		}
		return
	}
	namespace := ref.Namespace
	if namespace == "" {
		namespace = metav1.NamespaceDefault // as client-go does for cluster-scoped objects
	}
	e := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()), Namespace: namespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Note:                msg,
		Type:                eventtype,
	}
	if related != nil {
		if rel, err := reference.GetReference(r.scheme, related); err == nil {
			e.Related = rel
		}
	}
	r.series[k] = &series{name: e.Name, namespace: e.Namespace, count: 1, last: now, wrote: now, written: 1}
	r.enqueue(write{event: e})
}

// writeSeries sends a series' count to the apiserver. Callers hold r.mu.
func (r *Recorder) writeSeries(s *series, now time.Time) {
	s.wrote, s.written = now, s.count
	e := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.namespace},
		Series: &eventsv1.EventSeries{Count: s.count, LastObservedTime: metav1.NewMicroTime(s.last)}}
	r.enqueue(write{event: e, update: true})
}

// enqueue hands a write to the loop without waiting. Callers hold r.mu.
func (r *Recorder) enqueue(w write) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(w.event.Name))
	select {
	case r.writes[h.Sum32()%writers] <- w:
	default:
		ctrl.Log.WithName("events").Info("Dropping an event: too many waiting to be written", "event", w.event.Name, "reason", w.event.Reason)
	}
}

// Start writes the Events until ctx ends, and forgets series that have ended.
func (r *Recorder) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range r.writes {
		wg.Go(func() { r.write(ctx, r.writes[i]) })
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
			r.forgetEnded(time.Now())
		}
	}
}

// write writes the Events of one writer's queue until ctx ends.
func (r *Recorder) write(ctx context.Context, queue <-chan write) {
	log := ctrl.LoggerFrom(ctx).WithName("events")
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-queue:
			var err error
			if w.update {
				base := w.event.DeepCopy()
				base.Series = nil
				err = r.client.Patch(ctx, w.event, client.MergeFrom(base))
			} else {
				err = r.client.Create(ctx, w.event.DeepCopy())
			}
			if err != nil {
				log.Info("Writing an event failed", "event", w.event.Namespace+"/"+w.event.Name, "reason", w.event.Reason, "error", err.Error())
			}
		}
	}
}

// forgetEnded writes the counts the apiserver does not have yet (repeats that came within
// seriesWrite of the last write), and drops series whose last occurrence is older than the
// series window.
func (r *Recorder) forgetEnded(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, s := range r.series {
		if s.count > s.written {
			r.writeSeries(s, now)
		}
		if now.Sub(s.last) >= seriesWindow {
			delete(r.series, k)
		}
	}
}

// In returns a copy of a cluster-scoped object that an Event recorded in namespace ns may
// regard. kube-apiserver keeps Events about cluster-scoped objects in default only, where a
// tenant's team may not read them, and accepts an Event in another namespace when its regarding
// object names that namespace; so the operator records what it says about a TenantNamespace (or
// a released Namespace) a second time, regarding In(obj, obj's namespace), for `kubectl get
// events -n <namespace>` to show.
func In(obj client.Object, ns string) client.Object {
	c := obj.DeepCopyObject().(client.Object)
	c.SetNamespace(ns)
	return c
}

// NeedLeaderElection is false: every replica's webhooks and controllers may speak.
func (r *Recorder) NeedLeaderElection() bool { return false }
