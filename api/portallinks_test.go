package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/ledger"
)

// fakePortalLinks records what staff asked of the portal.
type fakePortalLinks struct {
	revoked, reissued []string
	fail              error
}

func (f *fakePortalLinks) RevokeLinks(_ context.Context, id uuid.UUID, by ledger.Actor) error {
	f.revoked = append(f.revoked, id.String()+" by "+by.Name+" ("+by.Role+")")
	return f.fail
}

func (f *fakePortalLinks) ReissueLink(_ context.Context, id uuid.UUID, by ledger.Actor, origin string) (time.Time, error) {
	f.reissued = append(f.reissued, id.String()+" by "+by.Name+" at "+origin)
	return time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), f.fail
}

func withPortalLinks(links PortalLinks, logs *syncBuffer) testOption {
	return func(w *testWiring) {
		prev := w.config
		w.config = func(c *Config) {
			if prev != nil {
				prev(c)
			}
			c.PortalLinks = links
			if logs != nil {
				c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			}
		}
	}
}

func TestPortalLinkRoutes(t *testing.T) {
	links := &fakePortalLinks{}
	ts := newTestServer(t, withPortalLinks(links, nil))
	id := ts.register()

	if r := ts.do(http.MethodDelete, "/v1/claims/"+id+"/portal-link", RoleAgent, nil); r.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.Code, r.Body)
	}
	r := ts.do(http.MethodPost, "/v1/claims/"+id+"/portal-link", RoleAdmin, nil)
	if r.Code != http.StatusCreated {
		t.Fatalf("reissue: %d %s", r.Code, r.Body)
	}
	body := r.json(t)
	if body["claim_id"] != id || body["expires_at"] != "2027-06-01T00:00:00Z" || len(body) != 2 {
		t.Fatalf("reissue answered %v", body)
	}
	if len(links.revoked) != 1 || !strings.HasSuffix(links.revoked[0], "(agent)") || len(links.reissued) != 1 || !strings.Contains(links.reissued[0], " at http://") {
		t.Fatalf("revoked %v reissued %v", links.revoked, links.reissued)
	}

	for _, tc := range []struct {
		name, id string
		role     Role
		want     int
	}{
		{"unknown claim", uuid.NewString(), RoleAgent, http.StatusNotFound},
		{"malformed id", "not-a-uuid", RoleAgent, http.StatusNotFound},
		{"technician", id, RoleTechnician, http.StatusForbidden},
		{"finance", id, RoleFinance, http.StatusForbidden},
	} {
		for _, method := range []string{http.MethodPost, http.MethodDelete} {
			if r := ts.do(method, "/v1/claims/"+tc.id+"/portal-link", tc.role, nil); r.Code != tc.want {
				t.Errorf("%s %s: %d, want %d", method, tc.name, r.Code, tc.want)
			}
		}
	}
	if len(links.revoked) != 1 || len(links.reissued) != 1 {
		t.Fatalf("refused requests reached the portal: %v %v", links.revoked, links.reissued)
	}
}

func TestPortalLinkRoutesWithoutPortal(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	r := ts.do(http.MethodDelete, "/v1/claims/"+id+"/portal-link", RoleAgent, nil)
	if r.Code != http.StatusNotFound || !strings.Contains(string(r.Body), "portal-disabled") {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
}

// A path parameter named token is a credential: neither the request log nor
// the log of a failed request holds it.
func TestTokenNeverLogged(t *testing.T) {
	var logs syncBuffer
	ts := newTestServer(t, withPortalLinks(&fakePortalLinks{}, &logs))
	const token = "c2VjcmV0LXRva2VuLXRoYXQtbXVzdC1ub3QtYmUtbG9nZ2Vk"
	ts.echo.GET("/portal/c/:token", func(c *echo.Context) error { return c.String(http.StatusOK, "page") })
	ts.echo.POST("/portal/c/:token/actions/:action", func(c *echo.Context) error { return errors.New("store down") })
	if r := ts.do(http.MethodGet, "/portal/c/"+token+"?lang=bg", "", nil); r.Code != http.StatusOK {
		t.Fatalf("GET: %d", r.Code)
	}
	if r := ts.do(http.MethodPost, "/portal/c/"+token+"/actions/withdraw", "", nil); r.Code != http.StatusInternalServerError {
		t.Fatalf("POST: %d", r.Code)
	}
	out := logs.String()
	if strings.Contains(out, token) {
		t.Fatalf("the token is in the log:\n%s", out)
	}
	if !strings.Contains(out, `"uri":"/portal/c/:token"`) || !strings.Contains(out, `"path":"/portal/c/:token/actions/:action"`) {
		t.Fatalf("the routes are not logged by their pattern:\n%s", out)
	}
	// Other routes keep their path in the log.
	ts.do(http.MethodGet, "/healthz", "", nil)
	if !strings.Contains(logs.String(), `"uri":"/healthz"`) {
		t.Fatal("an ordinary path is no longer logged")
	}
}

// OwnBodyLimit exempts the requests it selects from MaxBodyBytes (the
// portal bounds its uploads itself); every other request stays bounded.
func TestOwnBodyLimit(t *testing.T) {
	ts := newTestServer(t, func(w *testWiring) {
		w.config = func(c *Config) {
			c.OwnBodyLimit = func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/portal/") }
		}
	})
	ts.echo.POST("/portal/upload", func(c *echo.Context) error {
		n, err := io.Copy(io.Discard, c.Request().Body)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, strconv.FormatInt(n, 10))
	})
	big := strings.Repeat("x", 200<<10) // the test server's MaxBodyBytes is 64 KiB
	if r := ts.do(http.MethodPost, "/portal/upload", "", big); r.Code != http.StatusOK || string(r.Body) != strconv.Itoa(len(big)) {
		t.Fatalf("portal upload: %d %s", r.Code, r.Body)
	}
	if r := ts.do(http.MethodPost, "/v1/claims", RoleAgent, big); r.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("API post: %d", r.Code)
	}
}
