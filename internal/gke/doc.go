// Package gke keeps a GKE cluster's maintenance policy in line with a ClusterUpgradePolicy.
package gke
