package accounts

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// CookieName is the session cookie's name.
const CookieName = "rmaledger_session"

// CookiePath is the only path the session cookie is sent to.
const CookiePath = "/console"

// SessionCookie is the cookie that carries a session: HttpOnly (no script
// reads it), SameSite=Lax (another site's form cannot post with it; a link
// to the console still finds the person signed in), Path=/console, expiring
// with the session, and Secure when the request came over HTTPS (see
// IsHTTPS).
func SessionCookie(s Session, secure bool) *http.Cookie {
	return &http.Cookie{
		Name: CookieName, Value: s.Token, Path: CookiePath,
		Expires: s.ExpiresAt.UTC(), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}

// ClearCookie removes the session cookie from the browser (on sign-out).
func ClearCookie(secure bool) *http.Cookie {
	return &http.Cookie{
		Name: CookieName, Value: "", Path: CookiePath, MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}

// IsHTTPS reports whether the browser reached the service over HTTPS: the
// connection is TLS, or it comes from a trusted proxy (trusted reports
// which addresses are) whose X-Forwarded-Proto says https. A header from
// anyone else is not believed.
func IsHTTPS(r *http.Request, trusted func(netip.Addr) bool) bool {
	if r.TLS != nil {
		return true
	}
	if trusted == nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !trusted(addr.Unmap()) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
