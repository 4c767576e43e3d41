// Package tlstest makes a throwaway certificate authority and the
// certificates it signs, written as PEM files: for tests of TLS ports, and
// for the fault harness's clusters.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority whose files live in one directory.
type CA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertFile is the CA's certificate, for -tls-ca, -tls-client-ca and
	// -internode-tls-ca.
	CertFile string
	t        testing.TB // set by NewCA: Issue fails the test instead of returning errors
}

// NewCA makes a CA named name in a new temporary directory of t.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	ca, err := MakeCA(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	ca.t = t
	return ca
}

// MakeCA makes a CA named name whose files go in dir (the fault harness's
// cluster CA; tests use NewCA).
func MakeCA(dir, name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{dir: dir, cert: cert, key: key}
	if ca.CertFile, err = ca.write(name+"-ca.pem", "CERTIFICATE", der); err != nil {
		return nil, err
	}
	return ca, nil
}

// Issue signs a certificate for name, valid for 127.0.0.1 and localhost
// as a server and as a client, and returns its certificate and key files.
// A CA from NewCA fails its test on an error.
func (ca *CA) Issue(name string, ips ...net.IP) (certFile, keyFile string) {
	certFile, keyFile, err := ca.IssueFor(name, ips...)
	if err != nil {
		if ca.t == nil {
			panic(err)
		}
		ca.t.Fatal(err)
	}
	return certFile, keyFile
}

// IssueFor is Issue that returns its error; ips are added to 127.0.0.1.
func (ca *CA) IssueFor(name string, ips ...net.IP) (certFile, keyFile string, err error) {
	return ca.issue(name, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, ips)
}

// IssueServerOnly is Issue for a certificate whose extended key usage
// names serverAuth alone, as many CAs issue them.
func (ca *CA) IssueServerOnly(name string) (certFile, keyFile string) {
	certFile, keyFile, err := ca.issue(name, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil)
	if err != nil {
		ca.t.Fatal(err)
	}
	return certFile, keyFile
}

func (ca *CA) issue(name string, usages []x509.ExtKeyUsage, ips []net.IP) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usages,
		DNSNames:     []string{"localhost"},
		IPAddresses:  append([]net.IP{net.IPv4(127, 0, 0, 1)}, ips...),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	if certFile, err = ca.write(name+".pem", "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	keyFile, err = ca.write(name+"-key.pem", "EC PRIVATE KEY", kder)
	return certFile, keyFile, err
}

func (ca *CA) write(name, kind string, der []byte) (string, error) {
	path := filepath.Join(ca.dir, name)
	return path, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}
