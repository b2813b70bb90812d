package testutil

import (
	"sync"
	"sync/atomic"
)

// Parallel calls fn(0) … fn(n-1) on p goroutines and returns the first error; after an error,
// the goroutine that got it stops taking work.
func Parallel(n, p int, fn func(int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range p {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
