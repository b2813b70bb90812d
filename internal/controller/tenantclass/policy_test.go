package tenantclass_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	platformv1alpha1 "github.com/selfserve-dev/selfserve/api/v1alpha1"
	"github.com/selfserve-dev/selfserve/internal/controller/tenantclass"
	"github.com/selfserve-dev/selfserve/internal/operator"
	"github.com/selfserve-dev/selfserve/test/controlplane"
	. "github.com/selfserve-dev/selfserve/test/testutil"
)

// TestWorkloadRulesAreKubeApiserversOwn: a class that allows one registry, one priority class,
// LoadBalancer Services and one storage class, and a class left at the defaults. With the
// operator stopped, a tenant admin's pods, Services and claims are refused and allowed as the
// classes say, by kube-apiserver alone, with the field and the class rule in the refusal.
// Updates are held to what they change, and the binding the operator made comes back when
// removed.
func TestWorkloadRulesAreKubeApiserversOwn(t *testing.T) {
	ctx := context.Background()
	guarded := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "work-guarded"}, Spec: platformv1alpha1.TenantClassSpec{
		Workloads: platformv1alpha1.WorkloadRules{
			PriorityClasses: []string{"work-batch"},
			Registries:      []string{"registry.example.com/"},
			ServiceTypes:    []string{"LoadBalancer"},
			StorageClasses:  []string{"fast"},
			NodePool: &platformv1alpha1.NodePool{NodeSelector: map[string]string{"pool": "work"},
				Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "work", Effect: corev1.TaintEffectNoSchedule}}},
		}}}
	open := &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "work-open"}}
	for _, c := range []*platformv1alpha1.TenantClass{guarded, open} {
		Must(t, admin.Create(ctx, c))
	}
	if got := getClass(t, "work-open").Spec.Workloads; len(got.Registries) != 1 || got.Registries[0] != "*" || len(got.ServiceTypes) != 2 || len(got.PriorityClasses) != 0 {
		t.Errorf("a class left at the defaults has workloads %+v, want any registry, LoadBalancer and NodePort, no priority class", got)
	}
	// A registry prefix that is the start of a host name would let look-alike hosts in.
	bad := guarded.DeepCopy()
	bad.Name, bad.Spec.Workloads.Registries = "work-lookalike", []string{"registry.example.com"}
	if err := admin.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), "a registry prefix ends with '/'") {
		t.Errorf("a class allowing registry prefix registry.example.com: %v", err)
	}
	Must(t, admin.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "work-batch"}, Value: 100}))
	Must(t, admin.Create(ctx, Team("work", "work-guarded", "work-open")))
	for name, class := range map[string]string{"work-g": "work-guarded", "work-o": "work-open"} {
		Must(t, admin.Create(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: platformv1alpha1.TenantNamespaceSpec{Team: "work", Class: class, Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-work"}}}}))
	}
	for _, name := range []string{"work-g", "work-o"} {
		Eventually(t, 30*time.Second, name+" is Ready", func() bool {
			var tn platformv1alpha1.TenantNamespace
			return admin.Get(ctx, client.ObjectKey{Name: name}, &tn) == nil && meta.IsStatusConditionTrue(tn.Status.Conditions, platformv1alpha1.ConditionReady)
		})
	}
	for _, class := range []string{"work-guarded", "work-open"} {
		var b admissionregistrationv1.ValidatingAdmissionPolicyBinding
		Eventually(t, 10*time.Second, "the binding of class "+class, func() bool {
			return admin.Get(ctx, client.ObjectKey{Name: tenantclass.WorkloadBindingName(class)}, &b) == nil
		})
		// As stored (with the apiserver's defaults), it is what the operator wants: no write
		// when nothing changed.
		if !tenantclass.BindingCurrent(&b, class) {
			t.Errorf("the stored binding of %s does not count as current; every reconcile would apply it: %+v", class, b.Spec)
		}
		var mb admissionregistrationv1.MutatingAdmissionPolicyBinding
		Eventually(t, 10*time.Second, "the node pool binding of class "+class, func() bool {
			return admin.Get(ctx, client.ObjectKey{Name: tenantclass.NodePoolBindingName(class)}, &mb) == nil
		})
		if !tenantclass.NodePoolBindingCurrent(&mb, class) {
			t.Errorf("the stored node pool binding of %s does not count as current: %+v", class, mb.Spec)
		}
	}

	// The admin role the owners hold is aggregated by kube-controller-manager, which this
	// control plane does not run: the workload rights it would give, given directly.
	Must(t, admin.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "work-workloads"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"pods", "services", "persistentvolumeclaims"}, Verbs: []string{"get", "create", "update", "patch"}}}}))
	for _, ns := range []string{"work-g", "work-o"} {
		Must(t, admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "work-workloads", Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "work-workloads"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "team-work"}}}))
	}

	// From here on kube-apiserver alone holds the rules.
	Must(t, op.Stop())
	stopped := true
	defer func() {
		if stopped {
			restartOperator(t)
		}
	}()
	cfg, err := cp.UserConfig("dana@example.com", "team-work")
	Must(t, err)
	dev, err := client.New(cfg, client.Options{Scheme: admin.Scheme()})
	Must(t, err)

	pod := func(ns, name, image string, change func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
		if change != nil {
			change(p)
		}
		return p
	}
	service := func(ns, name string, typ corev1.ServiceType, change func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.ServiceSpec{Type: typ, Ports: []corev1.ServicePort{{Port: 80}}}}
		if typ == corev1.ServiceTypeExternalName {
			s.Spec.ExternalName, s.Spec.Ports = "db.example.com", nil
		}
		if change != nil {
			change(s)
		}
		return s
	}
	claim := func(ns, name, storageClass string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &storageClass, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	}
	create := func(obj client.Object) error {
		var err error
		// RBAC may not have the owners' binding yet; the policy answers once it has.
		Within(10*time.Second, func() bool {
			err = dev.Create(ctx, obj)
			return err == nil || !apierrors.IsForbidden(err) || strings.Contains(err.Error(), "TenantClass") || strings.Contains(err.Error(), "denied request")
		})
		return err
	}
	refused := func(what string, err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: admitted", what)
			return
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: refusal %q does not say %q", what, err, w)
			}
		}
	}
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}

	// kube-apiserver starts to hold a namespace to a new binding within seconds (it watches
	// bindings, namespaces and, once bound, the class).
	for ns, class := range map[string]string{"work-g": "work-guarded", "work-o": "work-open"} {
		Eventually(t, 30*time.Second, "kube-apiserver holds "+ns+" to class "+class, func() bool {
			err := dev.Create(ctx, pod(ns, "probe", "nginx", func(p *corev1.Pod) { p.Spec.PriorityClassName = "system-node-critical" }), client.DryRunAll)
			return err != nil && strings.Contains(err.Error(), "TenantClass "+class)
		})
	}

	// The node pool's mutating policy is loaded on its own, possibly after the validating one:
	// until it is, a pod that names no node pool is refused for not being on it.
	Eventually(t, 30*time.Second, "kube-apiserver puts work-g's pods on the class's node pool", func() bool {
		p := pod("work-g", "probe-pool", "registry.example.com/app:1", nil)
		return dev.Create(ctx, p, client.DryRunAll) == nil && p.Spec.NodeSelector["pool"] == "work"
	})

	refused("an image from another registry", create(pod("work-g", "hub", "docker.io/library/nginx:1.27", nil)),
		"spec.containers[*].image: docker.io/library/nginx:1.27 not from a registry TenantClass work-guarded allows (workloads.registries: registry.example.com/)")
	refused("an init container from another registry", create(pod("work-g", "init", "registry.example.com/app:1", func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "registry.example.com.evil.io/setup:1"}}
	})), "registry.example.com.evil.io/setup:1")
	allowed("an image from the allowed registry", create(pod("work-g", "app", "registry.example.com/app:1", nil)))
	refused("a system priority class", create(pod("work-g", "critical", "registry.example.com/app:1", func(p *corev1.Pod) {
		p.Spec.PriorityClassName = "system-cluster-critical"
	})), "spec.priorityClassName: system-cluster-critical is not a priority class TenantClass work-guarded allows (workloads.priorityClasses: work-batch; system- classes never)")
	allowed("the allowed priority class", create(pod("work-g", "batch", "registry.example.com/app:1", func(p *corev1.Pod) { p.Spec.PriorityClassName = "work-batch" })))
	refused("a NodePort Service", create(service("work-g", "np", corev1.ServiceTypeNodePort, nil)),
		"spec.type: NodePort is not a Service type TenantClass work-guarded allows (workloads.serviceTypes: ClusterIP, LoadBalancer)")
	refused("an ExternalName Service", create(service("work-g", "ext", corev1.ServiceTypeExternalName, nil)), "spec.type: ExternalName")
	refused("a Service with external IPs", create(service("work-g", "eip", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"203.0.113.7"} })),
		"spec.externalIPs: TenantClass work-guarded does not allow")
	allowed("a LoadBalancer Service", create(service("work-g", "lb", corev1.ServiceTypeLoadBalancer, nil)))
	allowed("a ClusterIP Service", create(service("work-g", "web", corev1.ServiceTypeClusterIP, nil)))
	refused("a claim of another storage class", create(claim("work-g", "slow", "standard-rwo")),
		"spec.storageClassName: standard-rwo is not a storage class TenantClass work-guarded allows (workloads.storageClasses: fast)")
	allowed("a claim of the allowed storage class", create(claim("work-g", "data", "fast")))

	// The class's node pool: added to a pod that names none, refused to a pod asking for other
	// nodes; and no tenant pod names its node.
	var pinned corev1.Pod
	Must(t, admin.Get(ctx, client.ObjectKey{Namespace: "work-g", Name: "app"}, &pinned))
	if pinned.Spec.NodeSelector["pool"] != "work" || !slices.ContainsFunc(pinned.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol.Key == "dedicated" && tol.Value == "work" }) {
		t.Errorf("a pod of the pool's class has nodeSelector %v and tolerations %v, want pool=work and the pool's toleration", pinned.Spec.NodeSelector, pinned.Spec.Tolerations)
	}
	allowed("a pod naming the pool itself", create(pod("work-g", "on-pool", "registry.example.com/app:1", func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{"pool": "work", "disk": "ssd"}
	})))
	refused("a pod asking for other nodes", create(pod("work-g", "elsewhere", "registry.example.com/app:1", func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{"pool": "general"}
	})), "spec.nodeSelector: TenantClass work-guarded runs its pods on its node pool (pool=work); a pod may not ask for other nodes")
	refused("a pod naming its node", create(pod("work-o", "on-node", "nginx", func(p *corev1.Pod) { p.Spec.NodeName = "pool-work-1" })),
		"spec.nodeName: tenant pods go through the scheduler")

	// The defaults: any registry and storage class, LoadBalancer and NodePort; no priority
	// class, and never a system one; no ExternalName, no external IPs.
	allowed("any registry by default", create(pod("work-o", "hub", "docker.io/library/nginx:1.27", nil)))
	var free corev1.Pod
	Must(t, admin.Get(ctx, client.ObjectKey{Namespace: "work-o", Name: "hub"}, &free))
	if len(free.Spec.NodeSelector) != 0 || slices.ContainsFunc(free.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol.Key == "dedicated" }) {
		t.Errorf("a pod of a class without a pool got nodeSelector %v, tolerations %v", free.Spec.NodeSelector, free.Spec.Tolerations)
	}
	refused("a system priority class by default", create(pod("work-o", "node-critical", "nginx", func(p *corev1.Pod) { p.Spec.PriorityClassName = "system-node-critical" })),
		"workloads.priorityClasses: none; system- classes never")
	allowed("a NodePort Service by default", create(service("work-o", "np", corev1.ServiceTypeNodePort, nil)))
	refused("an ExternalName Service by default", create(service("work-o", "ext", corev1.ServiceTypeExternalName, nil)), "spec.type: ExternalName")
	allowed("any storage class by default", create(claim("work-o", "data", "standard-rwo")))

	// The class tightened under running pods: what they run stays, a change is held to it.
	Update(t, admin, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "work-open"}}, func(c *platformv1alpha1.TenantClass) {
		c.Spec.Workloads.Registries = []string{"registry.example.com/"}
	})
	Eventually(t, 10*time.Second, "kube-apiserver holds pods to the tightened class", func() bool {
		err := dev.Create(ctx, pod("work-o", "hub-2", "docker.io/library/nginx:1.27", nil))
		return err != nil && strings.Contains(err.Error(), "workloads.registries: registry.example.com/")
	})
	allowed("labelling a pod whose image the class no longer allows", Attempt(dev, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hub", Namespace: "work-o"}}, func(p *corev1.Pod) {
		p.Labels = map[string]string{"tier": "web"}
	}))
	refused("changing its image to another one the class does not allow", Attempt(dev, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hub", Namespace: "work-o"}}, func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = "docker.io/library/nginx:1.28"
	}), "docker.io/library/nginx:1.28 not from a registry")

	// Removed while the operator is down: the restarted operator puts it back.
	Must(t, admin.Delete(ctx, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: tenantclass.WorkloadBindingName("work-guarded")}}))
	restartOperator(t)
	stopped = false
	Eventually(t, 30*time.Second, "the binding is back", func() bool {
		return admin.Get(ctx, client.ObjectKey{Name: tenantclass.WorkloadBindingName("work-guarded")}, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}) == nil
	})
}

// restartOperator starts the operator again after a test stopped it.
func restartOperator(t *testing.T) {
	t.Helper()
	var err error
	op, err = cp.StartOperatorWithoutWebhooks()
	Must(t, err)
}

// TestNodePoolWithoutMutatingAdmissionPolicy: on an apiserver that serves no
// MutatingAdmissionPolicy (Kubernetes below 1.36), the operator starts, binds the workload
// policy only, and a class's node pool is enforced, not added: a pod without the pool's labels
// is refused, with the labels to set; one with them is admitted.
func TestNodePoolWithoutMutatingAdmissionPolicy(t *testing.T) {
	ctx := context.Background()
	env, err := controlplane.StartEnv(ctx, controlplane.Options{APIServerArgs: map[string]string{
		"runtime-config":            "admissionregistration.k8s.io/v1/mutatingadmissionpolicies=false,admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings=false",
		"disable-admission-plugins": "MutatingAdmissionPolicy",
	}}, func(o *operator.Options) { o.EnableWebhooks = false })
	Must(t, err)
	defer func() { _ = env.Stop() }()
	for _, feature := range []string{"dns", "node_pool"} {
		if v, err := controlplane.Metric("selfserve_admission_by_policy", map[string]string{"feature": feature}); err != nil || v != 0 {
			t.Errorf("selfserve_admission_by_policy{feature=%q} = %v (%v), want 0 on an apiserver without the policy API", feature, v, err)
		}
	}
	c := env.Admin
	Must(t, c.Create(ctx, &platformv1alpha1.TenantClass{ObjectMeta: metav1.ObjectMeta{Name: "old-pool"}, Spec: platformv1alpha1.TenantClassSpec{
		Workloads: platformv1alpha1.WorkloadRules{NodePool: &platformv1alpha1.NodePool{NodeSelector: map[string]string{"pool": "old"}}}}}))
	Must(t, c.Create(ctx, Team("old", "old-pool")))
	Must(t, c.Create(ctx, &platformv1alpha1.TenantNamespace{ObjectMeta: metav1.ObjectMeta{Name: "old-app"},
		Spec: platformv1alpha1.TenantNamespaceSpec{Team: "old", Class: "old-pool", Owners: []platformv1alpha1.Subject{{Kind: "Group", Name: "team-old"}}}}))
	Eventually(t, 30*time.Second, "the workload binding of old-pool", func() bool {
		return c.Get(ctx, client.ObjectKey{Name: tenantclass.WorkloadBindingName("old-pool")}, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}) == nil
	})
	Eventually(t, 30*time.Second, "the namespace old-app", func() bool {
		return c.Get(ctx, client.ObjectKey{Name: "old-app"}, &corev1.Namespace{}) == nil
	})
	dev, err := env.CP.PodCreator(ctx, "old-app", "olga@example.com", "team-old")
	Must(t, err)
	pod := func(selector map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-", Namespace: "old-app"},
			Spec: corev1.PodSpec{NodeSelector: selector, Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
	}
	var last error
	if !Within(30*time.Second, func() bool {
		last = dev.Create(ctx, pod(nil), client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), "spec.nodeSelector: TenantClass old-pool runs its pods on its node pool (pool=old)")
	}) {
		t.Fatalf("a pod without the pool's labels: %v, want refused for the pool's labels", last)
	}
	Must(t, dev.Create(ctx, pod(map[string]string{"pool": "old"})))
	var mbs admissionregistrationv1.MutatingAdmissionPolicyBindingList
	if err := c.List(ctx, &mbs); err == nil {
		t.Errorf("the apiserver serves MutatingAdmissionPolicyBindings (%d): the runtime config did not turn them off", len(mbs.Items))
	}
}
