#!/usr/bin/env bash
# Builds a local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kubectl)
# from Go modules into a per-version user cache folder, so tests and `make run` need no kind, no
# Docker and no binary downloads. Idempotent: a complete cache is reused in well under a second.
#
# Usage: hack/build-control-plane.sh            # builds if needed, prints the folder on stdout
#        hack/build-control-plane.sh --kubectl  # only kubectl (about a minute cold), prints its path
# Env:   K8S_VERSION (default v1.37.2), SELFSERVE_K8S_ASSETS (override the folder)
set -euo pipefail

version=${K8S_VERSION:-v1.37.2}
minor=$(echo "$version" | cut -d. -f2)
patch=$(echo "$version" | cut -d. -f3)
staging="v0.${minor}.${patch}"
dest=${SELFSERVE_K8S_ASSETS:-${XDG_CACHE_HOME:-$HOME/.cache}/selfserve/k8s/$version}
bins=(etcd kube-apiserver kube-controller-manager kubectl)
only_kubectl=false
if [ "${1:-}" = "--kubectl" ]; then
	only_kubectl=true
	if [ -x "$dest/kubectl" ]; then
		echo "$dest/kubectl"
		exit 0
	fi
fi

complete() {
	[ -f "$dest/.complete" ] || return 1
	for b in "${bins[@]}"; do [ -x "$dest/$b" ] || return 1; done
}

log() { echo "[control-plane] $*" >&2; }

if complete; then
	echo "$dest"
	exit 0
fi

# One build at a time per folder: a second caller waits for the first instead of racing it.
mkdir -p "$dest"
exec 9>"$dest/.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
	if complete; then
		echo "$dest"
		exit 0
	fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "building Kubernetes $version into $dest"
log "cold on a 2-core machine: about 15 min for kube-apiserver, 25 min in all; seconds when the Go build cache is warm"

modinfo=$(go mod download -json "k8s.io/kubernetes@$version")
gomod=$(echo "$modinfo" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
# Every staging module that k8s.io/kubernetes replaces with ./staging/... is published on its own
# at the matching v0.x version: point the same replace at the published module.
staging_mods=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")

{
	echo "module selfserve.local/k8s-build"
	echo
	echo "go 1.26"
	echo
	echo "require k8s.io/kubernetes $version"
	echo
	echo "tool ("
	echo "	go.etcd.io/etcd/server/v3"
	echo "	k8s.io/kubernetes/cmd/kube-apiserver"
	echo "	k8s.io/kubernetes/cmd/kube-controller-manager"
	echo "	k8s.io/kubernetes/cmd/kubectl"
	echo ")"
	echo
	echo "replace ("
	for m in $staging_mods; do echo "	$m => $m $staging"; done
	echo ")"
} >"$work/go.mod"
log "resolving modules ($(echo "$staging_mods" | wc -w) staging modules at $staging)"
(cd "$work" && go mod tidy >&2)

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
out="$work/out"
mkdir -p "$out"
build() {
	local name=$1 pkg=$2 start=$SECONDS
	log "building $name ..."
	(cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$name" "$pkg") >&2
	log "built $name in $((SECONDS - start)) s"
}
build kubectl k8s.io/kubernetes/cmd/kubectl
if $only_kubectl; then
	mv -f "$out/kubectl" "$dest/kubectl"
	log "done: $dest/kubectl"
	echo "$dest/kubectl"
	exit 0
fi
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build etcd go.etcd.io/etcd/server/v3

for b in "${bins[@]}"; do mv -f "$out/$b" "$dest/$b"; done
"$dest/kube-apiserver" --version >&2
touch "$dest/.complete"
log "done: $dest"
echo "$dest"
