// Package team reports on Teams: how many tenant namespaces each team holds, their summed
// quota, what is left of its budget and how many of its tenants wait for a place.
package team
