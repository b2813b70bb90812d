// Package testutil holds small helpers shared by selfserve's tests and benchmarks: waiting
// without sleeping, Teams, parallel runs, the kube-state-metrics config evaluated on objects,
// the machine's load.
package testutil
