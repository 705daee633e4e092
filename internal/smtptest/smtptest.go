// Package smtptest runs a real SMTP server in process (the server side of
// emersion/go-smtp) that keeps every message it accepts, for tests and the
// benchmark: the service's e-mail goes through a real SMTP exchange.
package smtptest

import (
	"errors"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is a message the server accepted.
type Received struct {
	From string
	To   []string
	Data []byte
	At   time.Time
}

// Header parses the message's header; a message that does not parse
// gives an empty one.
func (r Received) Header() mail.Header {
	m, err := mail.ReadMessage(strings.NewReader(string(r.Data)))
	if err != nil {
		return mail.Header{}
	}
	return m.Header
}

// Server is a recording SMTP server on a loopback port.
type Server struct {
	// Addr is host:port.
	Addr string

	srv      *smtp.Server
	mu       sync.Mutex
	received []Received
	refused  []Received
	refusals []error
	notify   chan struct{}
}

// Start listens on a free loopback port. Close stops it.
func Start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: l.Addr().String(), notify: make(chan struct{}, 1)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.AllowInsecureAuth = true
	go s.srv.Serve(l)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Refuse makes the next messages' DATA fail with the given SMTP codes, one
// per message (e.g. 451 for a temporary failure, 550 for a permanent one);
// the refused messages are kept apart (Refused).
func (s *Server) Refuse(codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range codes {
		s.refusals = append(s.refusals, &smtp.SMTPError{Code: c, Message: "refused by the test server"})
	}
}

// Received returns the messages accepted so far.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Refused returns the messages whose DATA the server refused (Refuse).
func (s *Server) Refused() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.refused...)
}

// Wait waits until at least n messages were accepted or the timeout
// passed, and returns those accepted.
func (s *Server) Wait(n int, timeout time.Duration) []Received {
	deadline := time.After(timeout)
	for {
		if got := s.Received(); len(got) >= n {
			return got
		}
		select {
		case <-s.notify:
		case <-deadline:
			return s.Received()
		}
	}
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := x.s
	s.mu.Lock()
	if len(s.refusals) > 0 {
		refusal := s.refusals[0]
		s.refusals = s.refusals[1:]
		s.refused = append(s.refused, Received{From: x.from, To: x.to, Data: data, At: time.Now()})
		s.mu.Unlock()
		return refusal
	}
	if len(x.to) == 0 {
		s.mu.Unlock()
		return errors.New("no recipient")
	}
	s.received = append(s.received, Received{From: x.from, To: x.to, Data: data, At: time.Now()})
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// Port is the server's port.
func (s *Server) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr)
	return port
}
