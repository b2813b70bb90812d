// Package v1alpha1 holds the selfserve API types: TenantClass, TenantNamespace, ServiceSLO and
// ClusterUpgradePolicy, in the group platform.selfserve.dev.
//
// +kubebuilder:object:generate=true
// +groupName=platform.selfserve.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every selfserve kind.
	GroupVersion = schema.GroupVersion{Group: "platform.selfserve.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the selfserve kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the selfserve kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
