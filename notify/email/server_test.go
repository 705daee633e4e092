package email

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// envelope is one message the test server accepted.
type envelope struct {
	From string
	To   []string
	Data []byte
	// TLS and User tell how the session that sent it was secured and who
	// authenticated it.
	TLS  bool
	User string
}

// smtpServer is a real SMTP server (go-smtp) on a local port, offering
// STARTTLS with a self-signed certificate and AUTH PLAIN, and recording
// what it accepts. Recipients starting with "reject" are refused with 550,
// with "busy" with 451.
type smtpServer struct {
	Addr string
	Port int
	// Roots trusts the server's certificate.
	Roots *x509.CertPool

	mu        sync.Mutex
	envelopes []envelope
	conns     []*smtp.Conn
	seen      map[*smtp.Conn]bool
}

// connCount is how many connections the server has had (a connection
// has a second session after STARTTLS).
func (s *smtpServer) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// drop closes every connection from the server's side, as a server that
// ends idle sessions does.
func (s *smtpServer) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

const (
	testUser     = "rmaledger"
	testPassword = "s3cret"
)

func startSMTP(t *testing.T) *smtpServer { return startSMTPServer(t, true) }

// startSMTPServer starts the server, offering STARTTLS when withTLS.
func startSMTPServer(t *testing.T, withTLS bool) *smtpServer {
	t.Helper()
	cert, roots := selfSigned(t)
	s := &smtpServer{Roots: roots, seen: map[*smtp.Conn]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		if !s.seen[c] {
			s.seen[c] = true
			s.conns = append(s.conns, c)
		}
		s.mu.Unlock()
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	if withTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	} else {
		srv.AllowInsecureAuth = true
	}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	s.Port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *smtpServer) received() []envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]envelope(nil), s.envelopes...)
}

type session struct {
	srv  *smtpServer
	conn *smtp.Conn
	user string
	env  envelope
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != testUser || password != testPassword {
			return errors.New("invalid credentials")
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.env = envelope{From: from, User: s.user}
	_, s.env.TLS = s.conn.TLSConnectionState()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "reject"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	case strings.HasPrefix(to, "busy"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.env.To = append(s.env.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	s.env.Data = b.Bytes()
	s.srv.mu.Lock()
	s.srv.envelopes = append(s.srv.envelopes, s.env)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.env = envelope{} }
func (s *session) Logout() error { return nil }

// selfSigned makes a certificate for localhost and 127.0.0.1, and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
