package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
)

// Object-level authorization: a partner (a dealer or system integrator)
// sees and changes its own organisation's claims only. The rule is enforced
// here, in one middleware every /v1 route passes through, not in the
// handlers: a partner reaches only the routes declared in partnerRoutes,
// and a claim-scoped one only for a claim of its own organisation. A route
// nobody declared is refused to partners, so a route added later is closed
// to them until someone has made sure it keeps to the caller's organisation
// and says so here.

// orgScope is how a route keeps a partner within its organisation.
type orgScope int

const (
	// scopeClaim: the route reads or changes the one claim its :id names;
	// the guard lets it run only for a claim of the caller's organisation.
	scopeClaim orgScope = iota + 1
	// scopeOwnOrganisation: the route lists or creates claims, and its
	// handler restricts itself to callerOrganisation(c) (search and timers
	// filter by it, registration records it).
	scopeOwnOrganisation
)

// partnerRoutes are the routes open to partners ("METHOD /path" as echo
// registers it), each with how it stays within the caller's organisation.
// Every other route answers a partner 403 before its handler runs. The
// route-level require() still applies: a partner needs the permission too.
var partnerRoutes = map[string]orgScope{
	"POST /v1/claims":                     scopeOwnOrganisation,
	"GET /v1/claims":                      scopeOwnOrganisation,
	"GET /v1/sla/timers":                  scopeOwnOrganisation,
	"GET /v1/claims/:id":                  scopeClaim,
	"GET /v1/claims/:id/events":           scopeClaim,
	"GET /v1/claims/:id/history":          scopeClaim,
	"GET /v1/claims/:id/state":            scopeClaim,
	"POST /v1/claims/:id/actions/:action": scopeClaim,
	"POST /v1/claims/:id/files":           scopeClaim,
	"GET /v1/claims/:id/files":            scopeClaim,
	"GET /v1/claims/:id/files/:file_id":   scopeClaim,
	"GET /v1/claims/:id/documents/:kind":  scopeClaim,
}

// claimOwners answers which organisation a claim belongs to ("" for the
// company's own), or ledger.ErrNotFound.
type claimOwners interface {
	Organisation(ctx context.Context, id uuid.UUID) (string, error)
}

// organisationGuard refuses a partner every route it may not use and every
// claim that is not its organisation's. Another organisation's claim is
// answered exactly as a claim that does not exist (404), so that a partner
// cannot even learn that it exists. The company's staff pass untouched.
func organisationGuard(owners claimOwners) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			actor := actorOf(c)
			if !isPartner(actor) {
				return next(c)
			}
			method := c.Request().Method
			if method == http.MethodHead {
				method = http.MethodGet // served by the GET route
			}
			switch partnerRoutes[method+" "+c.Path()] {
			case scopeOwnOrganisation:
				if actor.Org == "" {
					return partnerForbidden() // a partner without organisation sees nothing
				}
				return next(c)
			case scopeClaim:
				id, err := claimID(c)
				if err != nil {
					return err
				}
				org, err := owners.Organisation(c.Request().Context(), id)
				switch {
				case errors.Is(err, ledger.ErrNotFound):
					return noSuchClaim()
				case err != nil:
					return err
				case actor.Org == "" || org != actor.Org:
					return noSuchClaim()
				}
				return next(c)
			}
			return partnerForbidden()
		}
	}
}

// isPartner reports whether the actor is held to its organisation. Any
// actor bound to an organisation is, whatever its role says.
func isPartner(a ledger.Actor) bool { return a.Role == string(RolePartner) || a.Org != "" }

// callerOrganisation is the organisation a route must keep to: the
// partner's own, or "" for the staff (every organisation).
func callerOrganisation(c *echo.Context) string {
	if a := actorOf(c); isPartner(a) {
		return a.Org
	}
	return ""
}

// noSuchClaim is the answer for a claim the caller may not see: the same as
// for a claim that does not exist (see readProblem).
func noSuchClaim() *Problem {
	return newProblem(http.StatusNotFound, "not-found", "No such claim", "")
}

func partnerForbidden() *Problem {
	return newProblem(http.StatusForbidden, "forbidden", "Your role may not do this", "partner organisations may not use this route")
}

// organisationParam reads the staff's optional ?organisation= filter.
func organisationParam(values url.Values) (string, error) {
	org := strings.TrimSpace(values.Get("organisation"))
	if org != "" && !domain.ValidOrganisation(org) {
		return "", badRequest("invalid-parameter", "organisation %q is not an organisation's name: lower-case letters, digits, '_', '-' or '.'", org)
	}
	return org, nil
}

// forCaller narrows a claim's allowed actions, for a partner, to those it
// may run itself, so that a dealer's integration offers no action it would
// be refused. The staff see every action the claim allows.
func forCaller(c *echo.Context, res ClaimResponse) ClaimResponse {
	if a := actorOf(c); isPartner(a) {
		res.AllowedActions = slices.DeleteFunc(slices.Clone(res.AllowedActions), func(action domain.Action) bool {
			return !ActionAllowed(RolePartner, action)
		})
		res.State.Notes = slices.DeleteFunc(slices.Clone(res.State.Notes), func(n domain.Note) bool {
			return n.Visibility != domain.VisibilityCustomer
		})
	}
	return res
}

// eventsForCaller are a claim's events as the caller may see them: a
// partner does not see the company's internal notes.
func eventsForCaller(c *echo.Context, records []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	if !isPartner(actorOf(c)) {
		return records
	}
	return slices.DeleteFunc(slices.Clone(records), func(r eventstore.RecordedEvent) bool { return domain.IsInternalNote(r.Type, r.Data) })
}
