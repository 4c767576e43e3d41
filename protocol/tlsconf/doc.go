// Package tlsconf builds the crypto/tls configurations of the client port
// from PEM files, for dynamod (-tls-cert, -tls-key, -tls-client-ca) and
// for clients such as loadgen (-tls, -tls-ca, -tls-cert, -tls-key): one
// place that says which files are read, what a bad one answers, and what
// the defaults are (TLS 1.2 at least, Go's cipher suites).
package tlsconf
