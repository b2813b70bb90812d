package datadog

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Connection hands out a client for the current Datadog settings. The operator's Secret is read
// again at most once a minute, so keys added or rotated after start are picked up without a
// restart; every client shares one pacer.
type Connection struct {
	// Reader reads the Secret from the apiserver (Secrets are not cached).
	Reader client.Reader
	Secret types.NamespacedName
	Pacer  *Pacer
	// Override, when set, is used instead of the Secret and the environment (tests, benchmarks).
	Override *Settings

	mu       sync.Mutex
	settings Settings
	client   *Client
	loaded   time.Time
}

// Get returns the client and settings in effect. The client is nil when no keys are
// configured.
func (c *Connection) Get(ctx context.Context) (*Client, Settings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded.IsZero() && time.Since(c.loaded) < time.Minute {
		return c.client, c.settings, nil
	}
	var s Settings
	if c.Override != nil {
		s = *c.Override
	} else {
		var err error
		if s, err = LoadSettings(ctx, c.Reader, c.Secret); err != nil {
			return nil, Settings{}, err
		}
	}
	if c.client == nil || s != c.settings {
		c.client = nil
		if s.Configured() {
			c.client = NewClient(s, c.Pacer)
		}
		c.settings = s
	}
	c.loaded = time.Now()
	return c.client, c.settings, nil
}
