package testutil

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Eventually polls cond every 100 ms until it holds, and fails the test when the deadline
// passes first. Tests wait for controllers with it instead of sleeping.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(timeout, cond) {
		t.Fatalf("timed out after %s waiting until %s", timeout, what)
	}
}

// Within polls cond every 100 ms until it holds (true) or the timeout passes (false), for a test
// that reports a failure itself and goes on.
func Within(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// Must fails the test on a non-nil error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Update reads obj afresh, applies change and writes it, retrying while a controller's own write
// (a status patch, a finalizer) makes the read stale.
func Update[T client.Object](t testing.TB, c client.Client, obj T, change func(T)) {
	t.Helper()
	Eventually(t, 10*time.Second, "the update of "+obj.GetName()+" is stored", func() bool {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false
		}
		change(obj)
		return c.Update(context.Background(), obj) == nil
	})
}

// Attempt reads obj afresh, applies change and writes it, retrying only while the read is stale
// (a conflict with a controller's own write), and returns the write's outcome: a test that
// expects the write refused checks the error instead of losing the race to a status patch.
func Attempt[T client.Object](c client.Client, obj T, change func(T)) error {
	var err error
	Within(10*time.Second, func() bool {
		if err = c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return !apierrors.IsConflict(err)
		}
		change(obj)
		err = c.Update(context.Background(), obj)
		return !apierrors.IsConflict(err)
	})
	return err
}

// Settled waits until count (the writes an operator has sent, say) stays the same for 2 s, and
// returns it; it fails the test if that takes longer than timeout.
func Settled(t testing.TB, timeout time.Duration, what string, count func() int) int {
	t.Helper()
	var last int
	Eventually(t, timeout, what+" settles", func() bool {
		n := count()
		time.Sleep(2 * time.Second)
		last = count()
		return n == last
	})
	return last
}
