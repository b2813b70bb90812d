// Package schedule is the window math of ClusterUpgradePolicies: recurring maintenance windows
// in local time (days of the week or an RRULE), one-off exclusions with a scope, and the answer,
// for an instant, to "may the cluster be upgraded now, why not, and when does that change".
// Everything here is pure: no client, no clock.
//
// Local start times that do not exist (the clock jumps forward over them) open at the first
// instant after the jump; local times that occur twice (the clock falls back) open at the first
// occurrence. A window lasts its duration in real (elapsed) time.
package schedule
