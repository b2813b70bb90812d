package tenancy

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterID is the UID of the cluster's kube-system namespace: what names the cluster in the
// tags of what the operator keeps in Datadog, stable for the cluster's life and different in
// every cluster that shares the Datadog account.
func ClusterID(ctx context.Context, r client.Reader) (string, error) {
	var ns corev1.Namespace
	if err := r.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, &ns); err != nil {
		return "", fmt.Errorf("reading namespace kube-system, whose UID names the cluster in Datadog: %w", err)
	}
	return string(ns.UID), nil
}

// Cluster keeps the cluster's ClusterID once read.
type Cluster struct {
	mu sync.Mutex
	id string
}

// ID returns ClusterID, read on first use.
func (c *Cluster) ID(ctx context.Context, r client.Reader) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id == "" {
		id, err := ClusterID(ctx, r)
		if err != nil {
			return "", err
		}
		c.id = id
	}
	return c.id, nil
}
