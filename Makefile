# selfserve — see README.md. Everything here uses only Go modules from the module proxy.

K8S_VERSION ?= v1.37.2
# Where the local control plane binaries are cached (built once per machine and version).
CONTROLPLANE = hack/build-control-plane.sh
CONTROLLER_GEN = go tool controller-gen
GOTEST_FLAGS ?=

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: ## Generate CRDs, RBAC and webhook configurations from the Go markers (and their copies in the Helm chart, and docs/api.md).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/gen/crd-descriptions config/crd/bases/*.yaml
	go run ./hack/gen/chart dist/chart
	go run ./hack/gen/api-docs docs/api.md

.PHONY: generate
generate: ## Generate DeepCopy methods and the time zone list of the schema.
	go run ./hack/gen/timezones api/v1alpha1/timezone_names.go
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet, and gofmt must have nothing to change.
	go vet ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

.PHONY: controlplane
controlplane: ## Build etcd, kube-apiserver, kube-controller-manager and kubectl from Go modules (cached).
	@K8S_VERSION=$(K8S_VERSION) $(CONTROLPLANE) >/dev/null

.PHONY: test
test: vet controlplane ## Run every test: unit, envtest (real apiserver) and the generated-files check.
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) $(CONTROLPLANE))" go test $(GOTEST_FLAGS) ./...

##@ Run

.PHONY: run
run: controlplane ## Run the sandbox: local control plane, Datadog fake, operator and webhooks. USE_EXISTING_CLUSTER=true runs the operator against the current kubeconfig instead.
ifeq ($(USE_EXISTING_CLUSTER),true)
	ENABLE_WEBHOOKS=$${ENABLE_WEBHOOKS:-false} go run ./cmd --metrics-bind-address=:8080 --metrics-secure=false --health-probe-bind-address=:8081 --zap-devel
else
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) $(CONTROLPLANE))" go run ./hack/sandbox
endif

##@ Deploy (the cluster of the current kubeconfig)

# The kubectl on PATH; without one, only kubectl is built from Go modules (not the control plane).
KUBECTL = "$$(command -v kubectl || K8S_VERSION=$(K8S_VERSION) $(CONTROLPLANE) --kubectl)"

.PHONY: install
install: ## Install or upgrade the CRDs only (server-side apply), with the kubectl on PATH (else one built from Go modules).
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: deploy
deploy: ## Install or upgrade everything in config/default (server-side apply), with the kubectl on PATH (else one built from Go modules).
	$(KUBECTL) apply --server-side -k config/default

##@ Build

.PHONY: build
build: ## Build the manager binary into bin/manager.
	CGO_ENABLED=0 go build -trimpath -o bin/manager ./cmd

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Benchmarks

.PHONY: bench-tenants
bench-tenants: controlplane ## 1,000 TenantNamespaces: the operator (own process) vs a plain client, writes per tenant, resync writes, heap and RSS, pod churn.
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) $(CONTROLPLANE))" go run ./hack/bench/tenants $(BENCH_FLAGS)

.PHONY: bench-dns
bench-dns: controlplane ## Pod DNS injection (the admission policy; BENCH_FLAGS=-injection=webhook for the webhook): p50/p99 pod creation latency with and without, 200 pods/s for 30 s.
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) $(CONTROLPLANE))" go run ./hack/bench/dns $(BENCH_FLAGS)

.PHONY: bench-slos
bench-slos: controlplane ## 1,000 ServiceSLOs against the Datadog fake: calls to create, calls per poll/hour, convergence after a 429 storm.
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) $(CONTROLPLANE))" go run ./hack/bench/slos $(BENCH_FLAGS)
