// Package events records the operator's Events (events.k8s.io/v1) so that every distinct thing
// it says reaches the user. client-go's recorder folds Events that share their object, type,
// reason and action into one series within six minutes and keeps the first note: four creates
// in Datadog in one reconcile ("Created SLO …", "Created burn-rate monitor 1 …", "… 2 …",
// "… 3 …") became one Event "Created SLO …" (x4). Here only Events whose note is the same too
// are folded into a series; any other note is an Event of its own.
package events
