// Package gkefake is an in-memory stand-in for the two GKE API calls selfserve makes: get a
// cluster and set its maintenance policy. Like GKE, it versions the policy and refuses a set
// whose resourceVersion is not the current one, so read-then-set and conflict retries are
// exercised through the real google.golang.org/api/container/v1 client.
package gkefake
