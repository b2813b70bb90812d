package datadog

import (
	"cmp"
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
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
	// Timeout and Settle are the operator's flags, for settings that do not set them.
	Timeout, Settle time.Duration

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
	s.Timeout, s.Settle = cmp.Or(s.Timeout, c.Timeout), cmp.Or(s.Settle, c.Settle)
	if c.loaded.IsZero() || s != c.settings {
		c.client = nil
		if s.Configured() {
			c.client = NewClient(s, c.Pacer)
		}
		c.settings = s
		// Said once per change, so a rotation or a fix of the Secret shows in the log; never the keys.
		log := ctrl.LoggerFrom(ctx).WithName("datadog")
		if s.Configured() {
			log.Info("Datadog configured", "site", s.Site, "url", s.BaseURL())
		} else {
			log.Info("Datadog credentials not configured; ServiceSLOs report it in their Ready condition", "secret", c.Secret.String())
		}
	}
	c.loaded = time.Now()
	return c.client, c.settings, nil
}
