// Package controlplane starts a real Kubernetes control plane for tests and for the local
// sandbox: etcd and kube-apiserver through envtest, with selfserve's CRDs and webhook
// configurations installed, and kube-controller-manager when a test needs namespace deletion,
// garbage collection or ResourceQuota usage. The binaries are built from Go modules by
// hack/build-control-plane.sh into a per-version user cache folder.
package controlplane
