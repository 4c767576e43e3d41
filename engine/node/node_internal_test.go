package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
)

// Only a handshake that failed over TLS itself is logged as a certificate
// problem: a reset or an EOF mid-handshake is a crash or a partition (the
// fault harness's kills logged "the peer holds no certificate" for them).
func TestCertificateTroubleIsTLSNotTheNetwork(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.EOF, false},
		{&net.OpError{Op: "write", Err: syscall.ECONNRESET}, false},
		{tls.AlertError(42), true}, // bad certificate
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, true},
		{x509.UnknownAuthorityError{}, true},
		{errors.New("tls: client didn't provide a certificate"), true},
	} {
		if got := certificateTrouble(tc.err); got != tc.want {
			t.Errorf("certificateTrouble(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
