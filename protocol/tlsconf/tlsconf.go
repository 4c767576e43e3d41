package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// Server returns the configuration of a TLS port that presents the
// certificate chain in certFile with the private key in keyFile. With
// clientCAFile set, every client must present a certificate one of its
// CAs signed (memcached's ssl_verify_mode 2).
func Server(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate and a key file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		pool, err := loadPool(clientCAFile, "client")
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Client returns the configuration of a client that checks the server's
// certificate against the CAs in caFile (the system's when empty), or not
// at all when insecure, and presents the certificate in certFile with the
// key in keyFile when they are set.
func Client(caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if caFile != "" {
		pool, err := loadPool(caFile, "server")
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the TLS client certificate %s and key %s: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, errors.New("a TLS client certificate needs both a certificate and a key file")
	}
	return cfg, nil
}

func loadPool(file, role string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the %s CA file: %w", role, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the %s CA file %s holds no PEM certificate", role, file)
	}
	return pool, nil
}

// Internode returns the configuration of a cluster's internode transport,
// for both ends: the node presents the certificate in certFile with the
// key in keyFile, and a peer (dialling or dialled) must present one the CA
// in caFile signed. Members are named by that CA, not by host names: the
// chain is checked, the peer's address is not (nodes are dialled by
// address, and a certificate per address would tie a node's identity to
// its IP), as Cassandra's internode encryption does without endpoint
// verification. TLS 1.3 only: every node runs this build.
func Internode(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, errors.New("internode TLS needs a certificate, its key and the cluster's CA")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the internode certificate %s and key %s: %w", certFile, keyFile, err)
	}
	pool, err := loadPool(caFile, "internode")
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		// Both sides check the peer's chain themselves, below: the dialler
		// instead of a host name, the dialled without asking for the
		// clientAuth key usage, so one certificate per node serves both ends.
		ClientAuth:         tls.RequireAnyClientCert,
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the peer presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			return err
		},
	}, nil
}

// Handshake runs the client side of a TLS handshake on nc within ctx and
// returns the TLS connection; nc is closed when it fails. Unless cfg names
// a server or skips verification, the server's certificate is checked
// against addr's host, as tls.Dial does.
func Handshake(ctx context.Context, nc net.Conn, addr string, cfg *tls.Config) (net.Conn, error) {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		host, _, _ := net.SplitHostPort(addr)
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}
