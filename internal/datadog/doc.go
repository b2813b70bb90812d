// Package datadog reaches Datadog for the operator. The ServiceSLO controller speaks only
// External (Observe, Create, Update, Delete for an SLO and its burn-rate monitors); below it,
// the desired shapes and their comparison (desired.go), the inventory every poll refreshes with a
// few paginated list calls (inventory.go), the SDK client (client.go), a transport that counts,
// paces and retries without ever re-sending a create whose outcome is unknown (transport.go),
// and the credentials (settings.go, connection.go). Refusals says what Datadog would refuse in a
// ServiceSLO, for the webhook and the controller alike.
package datadog
