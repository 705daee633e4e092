package api

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/ledger"
)

// PermPortalLinks revokes a claim's private links to the customer portal
// and issues a new one.
const PermPortalLinks Permission = "portal-links:manage"

func init() { permissions[PermPortalLinks] = []Role{RoleAgent, RoleAdmin} }

// PortalLinks manages the customer portal's private links for staff
// (*portal.Portal is one). ReissueLink issues a new link and hands it to
// the portal's sender, never to the caller: staff need not see a
// customer's credential. origin is the API request's scheme and host, for
// a portal without a configured public URL.
type PortalLinks interface {
	RevokeLinks(ctx context.Context, claimID uuid.UUID, by ledger.Actor) error
	ReissueLink(ctx context.Context, claimID uuid.UUID, by ledger.Actor, origin string) (expiresAt time.Time, err error)
}

// portalLinkResponse answers a reissue.
type portalLinkResponse struct {
	ClaimID   uuid.UUID `json:"claim_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *server) registerPortalLinks(v1 *echo.Group) {
	v1.POST("/claims/:id/portal-link", s.reissuePortalLink, require(PermPortalLinks))
	v1.DELETE("/claims/:id/portal-link", s.revokePortalLinks, require(PermPortalLinks))
}

// portalClaim checks the portal is enabled and the claim exists.
func (s *server) portalClaim(c *echo.Context) (uuid.UUID, error) {
	if s.cfg.PortalLinks == nil {
		return uuid.Nil, newProblem(http.StatusNotFound, "portal-disabled", "The customer portal is not enabled", "this service has no customer portal")
	}
	id, err := claimID(c)
	if err != nil {
		return uuid.Nil, err
	}
	if _, _, err := s.cfg.Ledger.Claim(c.Request().Context(), id); err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

// revokePortalLinks answers DELETE /v1/claims/{id}/portal-link: every
// private link of the claim stops working at once.
func (s *server) revokePortalLinks(c *echo.Context) error {
	id, err := s.portalClaim(c)
	if err != nil {
		return err
	}
	if err := s.cfg.PortalLinks.RevokeLinks(c.Request().Context(), id, actorOf(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// reissuePortalLink answers POST /v1/claims/{id}/portal-link: a new
// private link goes to the customer.
func (s *server) reissuePortalLink(c *echo.Context) error {
	id, err := s.portalClaim(c)
	if err != nil {
		return err
	}
	scheme := "http"
	if c.Request().TLS != nil {
		scheme = "https"
	}
	expires, err := s.cfg.PortalLinks.ReissueLink(c.Request().Context(), id, actorOf(c), scheme+"://"+c.Request().Host)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, portalLinkResponse{ClaimID: id, ExpiresAt: expires})
}
