package upgradepolicy

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
)

// observeCluster reports the cluster's version (API discovery) and its nodes' kubelet versions.
// It sets no condition: what it reads is information for the SREs, not the policy's health. A
// read that fails keeps the values last reported, and is logged.
func (r *Reconciler) observeCluster(ctx context.Context, s *scope) (ctrl.Result, error) {
	p := s.policy
	if v, err := r.Discovery.ServerVersion(); err == nil {
		p.Status.ClusterVersion = v.GitVersion
	} else {
		ctrl.LoggerFrom(ctx).Info("Reading the cluster version failed; keeping the last one", "error", err.Error())
	}
	if nodes, err := r.nodeVersions(ctx); err == nil {
		p.Status.NodeVersions = nodes
	} else {
		ctrl.LoggerFrom(ctx).Info("Listing nodes failed; keeping the last node versions", "error", err.Error())
	}
	return ctrl.Result{}, nil
}

// NodeVersionOnly is the cache's transform for Nodes: of each it keeps its name and kubelet
// version, all the policy reports, so a cluster of thousands of nodes costs the operator a few
// bytes each and the apiserver a watch instead of a list of whole Nodes at every evaluation.
func NodeVersionOnly(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{
		TypeMeta:   n.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion},
		Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: n.Status.NodeInfo.KubeletVersion}},
	}, nil
}

// nodeVersions counts nodes by kubelet version, from the cache (see NodeVersionOnly).
func (r *Reconciler) nodeVersions(ctx context.Context) ([]platformv1alpha1.NodeVersion, error) {
	var nodes corev1.NodeList
	if err := r.Client.List(ctx, &nodes); err != nil {
		return nil, err
	}
	counts := map[string]int32{}
	for _, n := range nodes.Items {
		counts[n.Status.NodeInfo.KubeletVersion]++
	}
	var out []platformv1alpha1.NodeVersion
	for v, c := range counts {
		out = append(out, platformv1alpha1.NodeVersion{Version: v, Nodes: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
