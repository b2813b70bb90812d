// Package upgradepolicy reconciles ClusterUpgradePolicies: it answers in the UpgradeAllowed
// condition whether the cluster may be upgraded now (maintenance windows, exclusions, error
// budget and monitor gates, suspension), reports why and what comes next, and requeues itself
// for the next instant at which the answer can change rather than polling.
package upgradepolicy
