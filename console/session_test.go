package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/console"
)

// sessionOf is the session cookie the client's jar holds for the console.
func sessionOf(t *testing.T, c *client) string {
	t.Helper()
	u, _ := url.Parse(c.s.server.URL + console.Prefix + "/")
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == "rmaledger_console" {
			return k.Value
		}
	}
	return ""
}

// TestSessionFixation: a session cookie planted before sign-in (a made-up
// token, or another person's live one) is replaced at sign-in, and the
// planted token never becomes the signed-in person's session.
func TestSessionFixation(t *testing.T) {
	s := newStack(t)
	tom := s.client(t)
	tom.signIn("Tom Technician", "pw-technician")
	for name, planted := range map[string]string{"made up": "planted-token", "another person's": sessionOf(t, tom)} {
		victim := s.client(t)
		token := victim.csrf()
		u, _ := url.Parse(s.server.URL + console.Prefix + "/")
		victim.http.Jar.SetCookies(u, []*http.Cookie{{Name: "rmaledger_console", Value: planted, Path: console.Prefix}})
		if p := victim.post(console.SignInPath, url.Values{"csrf": {token}, "name": {"Ana Agent"}, "password": {"pw-agent"}}); p.Code != http.StatusSeeOther {
			t.Fatalf("%s: sign in: %d", name, p.Code)
		}
		got := sessionOf(t, victim)
		if got == "" || got == planted {
			t.Errorf("%s token: the session cookie after sign-in is %q, the planted one", name, got)
		}
		attacker := s.client(t)
		attacker.http.Jar.SetCookies(u, []*http.Cookie{{Name: "rmaledger_console", Value: planted, Path: console.Prefix}})
		if p := attacker.get(console.QueuesPath); strings.Contains(p.Body, "Ana Agent") {
			t.Errorf("%s token: the planted token opens Ana's session", name)
		}
	}
}

// TestSessionCookieFlags: the session cookie set at sign-in is HttpOnly,
// SameSite=Strict and limited to /console, and Secure over TLS only; so is
// the CSRF cookie.
func TestSessionCookieFlags(t *testing.T) {
	for _, tls := range []bool{false, true} {
		s := newStack(t)
		e := echo.New()
		if err := console.Register(e, console.Config{
			Accounts: s.accounts, Reads: s.reads, Commands: s.ledger, Location: time.UTC,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}); err != nil {
			t.Fatal(err)
		}
		s.server.Close()
		if tls {
			s.server = httptest.NewTLSServer(e)
		} else {
			s.server = httptest.NewServer(e)
		}
		t.Cleanup(s.server.Close)
		c := s.client(t)
		c.http.Transport = s.server.Client().Transport
		token := c.csrf()
		p := c.post(console.SignInPath, url.Values{"csrf": {token}, "name": {"Ana Agent"}, "password": {"pw-agent"}})
		if p.Code != http.StatusSeeOther {
			t.Fatalf("TLS %v: sign in: %d", tls, p.Code)
		}
		res := http.Response{Header: p.Header}
		var session *http.Cookie
		for _, k := range res.Cookies() {
			if k.Name == "rmaledger_console" {
				session = k
			}
		}
		if session == nil {
			t.Fatalf("TLS %v: no session cookie set at sign-in: %v", tls, p.Header["Set-Cookie"])
		}
		if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != console.Prefix || session.Secure != tls {
			t.Errorf("TLS %v: session cookie %q", tls, session.String())
		}
		req, _ := http.NewRequest(http.MethodGet, s.server.URL+console.SignInPath, nil)
		fresh := s.client(t)
		fresh.http.Transport = c.http.Transport
		for _, k := range (&http.Response{Header: fresh.do(req).Header}).Cookies() {
			if k.Name == "rmaledger_console_csrf" && (!k.HttpOnly || k.SameSite != http.SameSiteStrictMode || k.Path != console.Prefix || k.Secure != tls) {
				t.Errorf("TLS %v: CSRF cookie %q", tls, k.String())
			}
		}
	}
}
