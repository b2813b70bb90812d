// Package serviceslo reconciles ServiceSLOs: an SLO and one burn-rate monitor per tier in
// Datadog, duplicate-safe (every object carries a tag unique to its CR and is adopted by it) and
// frugal (drift and error budgets are read in batches by the poller, not per object).
package serviceslo
