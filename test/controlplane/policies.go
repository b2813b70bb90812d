package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// PolicyPrefix is the name prefix config/default gives the admission policies.
const PolicyPrefix = "selfserve-"

// installPolicies creates the ValidatingAdmissionPolicies of config/policy and their bindings,
// named as config/default names them: kube-apiserver enforces them itself, so every test
// control plane has them, as every install does.
func (cp *ControlPlane) installPolicies(root string) error {
	data, err := os.ReadFile(filepath.Join(root, "config", "policy", "tenant_guard_rails.yaml"))
	if err != nil {
		return err
	}
	c, err := cp.Client()
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading config/policy: %w", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		obj.SetName(PolicyPrefix + obj.GetName())
		if policy, found, _ := unstructured.NestedString(obj.Object, "spec", "policyName"); found {
			_ = unstructured.SetNestedField(obj.Object, PolicyPrefix+policy, "spec", "policyName")
		}
		// A kind the apiserver does not serve (MutatingAdmissionPolicy below Kubernetes 1.36) is
		// left out, as an install on such a cluster leaves it out.
		if err := c.Create(context.Background(), &obj); meta.IsNoMatchError(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("installing %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
}
