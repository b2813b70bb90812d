// Package conditions writes the summary conditions every selfserve kind shares, the way kstatus
// (Argo CD's and Flux's health checks) reads them: Ready always, Reconciling and Stalled only
// while True.
package conditions
