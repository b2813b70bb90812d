package testutil

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterDNSIP is the ClusterIP tests give the kube-dns Service.
const ClusterDNSIP = "10.0.0.10"

// CreateClusterDNS creates the kube-dns Service in kube-system, as a cluster has it.
func CreateClusterDNS(t testing.TB, c client.Client) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}
	if err := c.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"},
		Spec: corev1.ServiceSpec{ClusterIP: ClusterDNSIP, Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
		}},
	}
	if err := c.Create(context.Background(), svc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// SetNodeLocalDNS creates (or updates) the node-local-dns DaemonSet in kube-system and sets its
// status as the DaemonSet controller would: ready of desired pods ready. No kubelet runs in the
// tests, so the status is written by hand.
func SetNodeLocalDNS(t testing.TB, c client.Client, ready, desired int32) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"k8s-app": "node-local-dns"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "node-local-dns", Namespace: "kube-system"}}
	err := c.Get(ctx, client.ObjectKeyFromObject(ds), ds)
	if apierrors.IsNotFound(err) {
		ds.Labels = labels
		ds.Spec = appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "node-cache", Image: "registry.k8s.io/dns/k8s-dns-node-cache:1.26.4"}}},
			},
		}
		Must(t, c.Create(ctx, ds))
	} else {
		Must(t, err)
	}
	ds.Status.DesiredNumberScheduled = desired
	ds.Status.CurrentNumberScheduled = desired
	ds.Status.NumberReady = ready
	ds.Status.NumberAvailable = ready
	Must(t, c.Status().Update(ctx, ds))
}

// DeleteNodeLocalDNS removes the node-local-dns DaemonSet.
func DeleteNodeLocalDNS(t testing.TB, c client.Client) {
	t.Helper()
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "node-local-dns", Namespace: "kube-system"}}
	if err := c.Delete(context.Background(), ds); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}
