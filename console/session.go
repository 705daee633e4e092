package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/ledger"
)

const personKey = "console.person"

// signedIn lets through only a request with a live session, and remembers
// the person; anyone else is sent to the sign-in page.
func (s *console) signedIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		cookie, err := c.Cookie(sessionCookie)
		if err == nil && cookie.Value != "" {
			p, renewed, err := s.cfg.Accounts.Verify(c.Request().Context(), cookie.Value)
			if err == nil {
				if renewed != "" && renewed != cookie.Value {
					c.SetCookie(s.sessionCookie(c, renewed))
				}
				c.Set(personKey, p)
				if pass, err := s.keepToOrganisation(c, p); !pass {
					return err
				}
				return next(c)
			}
			if !errors.Is(err, ErrNoSession) {
				return s.fail(c, err)
			}
		}
		if c.Request().Method != http.MethodGet {
			return s.refuse(c, http.StatusUnauthorized, "refused.signed-out")
		}
		return c.Redirect(http.StatusSeeOther, SignInPath)
	}
}

// personOf is the signed-in person of the request.
func personOf(c *echo.Context) Person {
	p, _ := c.Get(personKey).(Person)
	return p
}

// actor is the person as the ledger records them on events.
func actor(p Person) ledger.Actor {
	return ledger.Actor{Name: p.Name, Role: p.Role, Org: p.Organisation}
}

type signInView struct {
	Name  string
	Error string
}

func (s *console) signInForm(c *echo.Context) error {
	if cookie, err := c.Cookie(sessionCookie); err == nil && cookie.Value != "" {
		if _, renewed, err := s.cfg.Accounts.Verify(c.Request().Context(), cookie.Value); err == nil {
			if renewed != "" {
				c.SetCookie(s.sessionCookie(c, renewed))
			}
			return c.Redirect(http.StatusSeeOther, QueuesPath) // already signed in
		}
	}
	return s.render(c, http.StatusOK, "signin", "signin.title", signInView{})
}

func (s *console) signIn(c *echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	password := c.FormValue("password")
	v := signInView{Name: name}
	if name == "" || password == "" {
		v.Error = "signin.missing"
		return s.render(c, http.StatusUnprocessableEntity, "signin", "signin.title", v)
	}
	token, err := s.cfg.Accounts.SignIn(c.Request().Context(), name, password, c.RealIP())
	switch {
	case errors.Is(err, ErrTooManyAttempts):
		v.Error = "signin.limited"
		return s.render(c, http.StatusTooManyRequests, "signin", "signin.title", v)
	case errors.Is(err, ErrBadCredentials):
		v.Error = "signin.wrong"
		return s.render(c, http.StatusUnauthorized, "signin", "signin.title", v)
	case err != nil:
		return s.fail(c, err)
	}
	c.SetCookie(s.sessionCookie(c, token))
	return c.Redirect(http.StatusSeeOther, QueuesPath)
}

func (s *console) signOut(c *echo.Context) error {
	if cookie, err := c.Cookie(sessionCookie); err == nil && cookie.Value != "" {
		if err := s.cfg.Accounts.SignOut(c.Request().Context(), cookie.Value); err != nil && !errors.Is(err, ErrNoSession) {
			return s.fail(c, err)
		}
	}
	gone := s.sessionCookie(c, "")
	gone.MaxAge = -1
	c.SetCookie(gone)
	return c.Redirect(http.StatusSeeOther, SignInPath)
}

// sessionCookie holds the session token: for the console's paths only,
// out of scripts' reach, never sent from another site.
func (s *console) sessionCookie(c *echo.Context, token string) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookie, Value: token, Path: Prefix, HttpOnly: true,
		Secure: s.cfg.HTTPS(c.Request()), SameSite: http.SameSiteStrictMode,
	}
}

// language remembers the language chosen with the switcher and goes back
// to the page it was chosen on (a console path only, never elsewhere).
func (s *console) language(c *echo.Context) error {
	loc := s.cat.Pick("", c.QueryParam("to"))
	c.SetCookie(&http.Cookie{
		Name: languageCookie, Value: loc.Code, Path: Prefix, MaxAge: 365 * 24 * 3600, HttpOnly: true,
		Secure: s.cfg.HTTPS(c.Request()), SameSite: http.SameSiteLaxMode,
	})
	back := c.QueryParam("back")
	if !strings.HasPrefix(back, Prefix+"/") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = QueuesPath
	}
	return c.Redirect(http.StatusSeeOther, back)
}
