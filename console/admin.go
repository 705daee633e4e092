package console

import (
	"context"
	"crypto/rand"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/projections"
)

// AdminPath is the admin screen.
const AdminPath = Prefix + "/admin"

// Account is a person who may sign in, as the admin screen lists them.
type Account struct {
	Name string
	Role string
	// Organisation is a partner's organisation; "" for the staff.
	Organisation string
	Disabled     bool
	Created      time.Time
	// PasswordChanged is when the password was last set.
	PasswordChanged time.Time
}

// APIKey is an API key as the admin screen lists it: never the key itself.
type APIKey struct {
	Name, Role string
	// Organisation is a partner's key's organisation; "" for the staff's.
	Organisation string
	// State is active, expired or revoked.
	State   string
	Expires time.Time // zero: never
	Revoked time.Time // zero: not revoked
	// Revocable is false for a key the console cannot revoke (one from the
	// environment, removed there).
	Revocable bool
}

// RefusedError is an admin change refused for bad input; Reason is a
// message key under "admin.refused." and nothing was written.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "console: refused: " + e.Reason }

// Directory lists the people who work on claims; the accounts directory
// is one, through the same People the admin screen uses.
type Directory interface {
	People(ctx context.Context) ([]Account, error)
}

// Admin is what the admin screen reads and changes. Each change records
// by as its actor where the underlying call takes one; a refusal for bad
// input is a *RefusedError.
type Admin interface {
	People(ctx context.Context) ([]Account, error)
	// AddPerson adds an account; organisation is a partner's (and only a
	// partner has one).
	AddPerson(ctx context.Context, by Person, name, role, organisation, password string) error
	DisablePerson(ctx context.Context, by Person, name string) error
	EnablePerson(ctx context.Context, by Person, name string) error
	ResetPassword(ctx context.Context, by Person, name, password string) error
	SetRole(ctx context.Context, by Person, name, role string) error
	APIKeys(ctx context.Context) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, by Person, name string) error
	ReadModels(ctx context.Context) ([]projections.Status, error)
	Rebuild(ctx context.Context, by Person, name string) error
	// Policies are the policy versions, oldest first, and the one in force
	// at now.
	Policies(now time.Time) (versions []domain.Policy, inForce string)
}

// mayAdmin: only the admin role runs the service.
func mayAdmin(p Person) bool { return api.Allowed(api.Role(p.Role), api.PermOperate) }

// MayAdmin reports whether the person may open the admin screen.
func (v *view) MayAdmin() bool { return v.Person != nil && mayAdmin(*v.Person) }

// mountAdmin serves the admin screen to admins only.
func (s *console) mountAdmin(g *echo.Group, base *template.Template) error {
	if s.cfg.Admin == nil {
		return nil
	}
	if err := s.addPage(base, "admin"); err != nil {
		return err
	}
	only := s.permitted(mayAdmin)
	g.GET("/admin", s.admin, s.signedIn, only)
	g.POST("/admin/people", s.adminAddPerson, s.signedIn, only)
	g.POST("/admin/people/:op", s.adminPerson, s.signedIn, only)
	g.POST("/admin/keys/revoke", s.adminRevokeKey, s.signedIn, only)
	g.POST("/admin/read-models/rebuild", s.adminRebuild, s.signedIn, only)
	return nil
}

// adminView is the admin page's data.
type adminView struct {
	People     []Account
	Roles      []string
	Keys       []APIKey
	ReadModels []projections.Status
	Policies   []domain.Policy
	InForce    string
	// Done is a message key saying what was just done; Refused why not.
	Done, Refused string
	// Shown names the person whose new password is shown, once.
	Shown, Password string
	// Messages links the messages screen, when it is served.
	Messages bool
	// Typed keeps the add form's input after a refusal.
	TypedName, TypedRole, TypedOrganisation string
}

func (s *console) adminPage(c *echo.Context, status int, v adminView) error {
	ctx := c.Request().Context()
	var err error
	if v.People, err = s.cfg.Admin.People(ctx); err != nil {
		return s.fail(c, err)
	}
	slices.SortFunc(v.People, func(a, b Account) int { return strings.Compare(a.Name, b.Name) })
	if v.Keys, err = s.cfg.Admin.APIKeys(ctx); err != nil {
		return s.fail(c, err)
	}
	if v.ReadModels, err = s.cfg.Admin.ReadModels(ctx); err != nil {
		return s.fail(c, err)
	}
	v.Policies, v.InForce = s.cfg.Admin.Policies(s.cfg.Clock())
	v.Messages = s.cfg.Outbox != nil
	for _, r := range api.AllRoles() {
		v.Roles = append(v.Roles, string(r))
	}
	if v.TypedRole == "" {
		v.TypedRole = string(api.RoleAgent)
	}
	return s.render(c, status, "admin", "admin.title", v)
}

func (s *console) admin(c *echo.Context) error {
	v := adminView{}
	if done := c.QueryParam("done"); adminDone[done] {
		v.Done = "admin.done." + done
	}
	return s.adminPage(c, http.StatusOK, v)
}

// adminDone are the outcomes a redirect after a change may name.
var adminDone = map[string]bool{
	"disable": true, "enable": true, "role": true, "revoke": true, "rebuild": true,
}

// newPassword is a password to hand over once: 26 random base32
// characters (130 bits).
func newPassword() string { return rand.Text() }

// refused shows the page again with why a change was refused (422), or
// fails for an error that is not a refusal.
func (s *console) refused(c *echo.Context, err error, v adminView) error {
	var r *RefusedError
	if errors.As(err, &r) {
		v.Refused = "admin.refused." + r.Reason
		return s.adminPage(c, http.StatusUnprocessableEntity, v)
	}
	return s.fail(c, err)
}

func (s *console) adminAddPerson(c *echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	role, organisation := c.FormValue("role"), strings.TrimSpace(c.FormValue("organisation"))
	v := adminView{TypedName: name, TypedRole: role, TypedOrganisation: organisation}
	if name == "" {
		return s.refused(c, &RefusedError{Reason: "name"}, v)
	}
	password := newPassword()
	if err := s.cfg.Admin.AddPerson(c.Request().Context(), personOf(c), name, role, organisation, password); err != nil {
		return s.refused(c, err, v)
	}
	return s.adminPage(c, http.StatusOK, adminView{Done: "admin.done.add", Shown: name, Password: password})
}

func (s *console) adminPerson(c *echo.Context) error {
	ctx, by, name := c.Request().Context(), personOf(c), strings.TrimSpace(c.FormValue("name"))
	if name == "" {
		return s.refused(c, &RefusedError{Reason: "unknown"}, adminView{})
	}
	var err error
	op := c.Param("op")
	switch op {
	case "disable":
		if name == by.Name {
			return s.refused(c, &RefusedError{Reason: "self"}, adminView{})
		}
		err = s.cfg.Admin.DisablePerson(ctx, by, name)
	case "enable":
		err = s.cfg.Admin.EnablePerson(ctx, by, name)
	case "role":
		if name == by.Name {
			return s.refused(c, &RefusedError{Reason: "self"}, adminView{})
		}
		err = s.cfg.Admin.SetRole(ctx, by, name, c.FormValue("role"))
	case "reset":
		password := newPassword()
		if err := s.cfg.Admin.ResetPassword(ctx, by, name, password); err != nil {
			return s.refused(c, err, adminView{})
		}
		return s.adminPage(c, http.StatusOK, adminView{Done: "admin.done.reset", Shown: name, Password: password})
	default:
		return s.refuse(c, http.StatusNotFound, "refused.no-action")
	}
	if err != nil {
		return s.refused(c, err, adminView{})
	}
	return c.Redirect(http.StatusSeeOther, AdminPath+"?done="+op)
}

func (s *console) adminRevokeKey(c *echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" {
		return s.refused(c, &RefusedError{Reason: "unknown-key"}, adminView{})
	}
	if err := s.cfg.Admin.RevokeAPIKey(c.Request().Context(), personOf(c), name); err != nil {
		return s.refused(c, err, adminView{})
	}
	return c.Redirect(http.StatusSeeOther, AdminPath+"?done=revoke")
}

func (s *console) adminRebuild(c *echo.Context) error {
	name := c.FormValue("name")
	if err := s.cfg.Admin.Rebuild(c.Request().Context(), personOf(c), name); err != nil {
		return s.refused(c, err, adminView{})
	}
	return c.Redirect(http.StatusSeeOther, AdminPath+"?done=rebuild")
}
