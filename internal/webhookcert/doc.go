// Package webhookcert issues, rotates and serves the operator's own webhook certificate, so an
// install needs no cert-manager: a CA and a serving certificate kept in a Secret that every
// replica shares, and the CA injected into the webhook configurations' caBundle.
package webhookcert
