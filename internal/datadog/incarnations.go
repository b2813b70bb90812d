package datadog

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Incarnations remembers, per name, the UID of the object whose Datadog objects this process
// synced: when the name is gone, or stands for another object, the earlier one's objects are
// deleted (what a restart forgot is left to a sweep).
type Incarnations struct {
	mu   sync.Mutex
	uids map[string]types.UID
}

// Swap records uid as the name's ("" for none) and returns the UID it had.
func (i *Incarnations) Swap(name string, uid types.UID) types.UID {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.uids == nil {
		i.uids = map[string]types.UID{}
	}
	prev := i.uids[name]
	if uid == "" {
		delete(i.uids, name)
	} else {
		i.uids[name] = uid
	}
	return prev
}
