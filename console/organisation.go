package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// A partner (a dealer's or system integrator's person) sees its own
// organisation's claims only, as through the API (api.organisationGuard).
// Two things keep it so, whatever a page does:
//
//   - signedIn lets a partner reach only the pages of partnerPages, and a
//     claim's page or action only for a claim of its organisation (404,
//     as for a claim that does not exist); any other page is refused, so a
//     page added later is closed to partners until declared here;
//   - the Reads and Commands every page uses are wrapped (scopedReads,
//     scopedCommands) to keep to the organisation signedIn put into the
//     request's context: searches and queues are filtered by it, a claim
//     of another organisation is not found, a registration is the
//     partner's organisation's.

// partnerPages are the console routes a partner may use ("METHOD path" as
// registered), the claim-scoped ones marked true. Sign-in, sign-out, the
// language switch and the stylesheet need no session and are open anyway.
var partnerPages = map[string]bool{
	"GET " + Prefix + "/queues":                      false,
	"POST " + Prefix + "/queues":                     false,
	"GET " + Prefix + "/queues.csv":                  false,
	"POST " + Prefix + "/queues.csv":                 false,
	"GET " + Prefix + "/register":                    false,
	"POST " + Prefix + "/register":                   false,
	"GET " + Prefix + "/claims/:id":                  true,
	"POST " + Prefix + "/claims/:id/actions/:action": true,
	"POST " + Prefix + "/claims/:id/files":           true,
	"GET " + Prefix + "/claims/:id/files/:file_id":   true,
	"GET " + Prefix + "/claims/:id/documents":        true,
}

// isPartner reports whether the person is held to an organisation.
func isPartner(p Person) bool { return p.Role == string(api.RolePartner) || p.Organisation != "" }

// organisationKey carries the signed-in person's organisation in a
// request's context.
type organisationKey struct{}

// scope is the organisation a request keeps to; ok false for the staff,
// who see every organisation's claims.
func scope(ctx context.Context) (org string, ok bool) {
	org, ok = ctx.Value(organisationKey{}).(string)
	return org, ok
}

// keepToOrganisation is signedIn's check of a partner: the page must be
// one of partnerPages, and a claim-scoped one the partner's own claim. It
// puts the partner's organisation into the request's context for the
// scoped Reads and Commands. Unless it lets the request go on (pass), it
// has answered it.
func (s *console) keepToOrganisation(c *echo.Context, p Person) (pass bool, err error) {
	if !isPartner(p) {
		return true, nil
	}
	claimScoped, listed := partnerPages[c.Request().Method+" "+c.Path()]
	if !listed || p.Organisation == "" {
		return false, s.refuse(c, http.StatusForbidden, "refused.role")
	}
	ctx := context.WithValue(c.Request().Context(), organisationKey{}, p.Organisation)
	c.SetRequest(c.Request().WithContext(ctx))
	if !claimScoped {
		return true, nil
	}
	id, ok := claimIDParam(c)
	if !ok {
		return false, s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	switch _, _, err := s.cfg.Commands.Claim(ctx, id); {
	case errors.Is(err, ledger.ErrNotFound):
		return false, s.refuse(c, http.StatusNotFound, "refused.not-found")
	case err != nil:
		return false, s.fail(c, err)
	}
	return true, nil
}

// mayRunAction reports whether the person's role may run the action: the
// API's table (a partner runs the dealer's actions only).
func mayRunAction(p Person, a domain.Action) bool { return api.ActionAllowed(api.Role(p.Role), a) }

// scopedReads keeps every query to the request's organisation.
type scopedReads struct{ Reads }

func (r scopedReads) Claim(ctx context.Context, id uuid.UUID) (projections.ClaimRecord, error) {
	rec, err := r.Reads.Claim(ctx, id)
	if org, ok := scope(ctx); ok && err == nil && rec.State.Organisation != org {
		return projections.ClaimRecord{}, projections.ErrNotFound
	}
	return rec, err
}

func (r scopedReads) Search(ctx context.Context, q projections.SearchQuery) (projections.Page, error) {
	if org, ok := scope(ctx); ok {
		q.Organisation = org
	}
	return r.Reads.Search(ctx, q)
}

func (r scopedReads) Queue(ctx context.Context, q projections.QueueQuery) (projections.QueuePage, error) {
	if org, ok := scope(ctx); ok {
		q.Organisation = org
	}
	return r.Reads.Queue(ctx, q)
}

func (r scopedReads) ClaimClocks(ctx context.Context, id uuid.UUID, at time.Time) ([]projections.Timer, error) {
	if _, ok := scope(ctx); ok {
		if _, err := r.Claim(ctx, id); err != nil {
			return nil, err
		}
	}
	return r.Reads.ClaimClocks(ctx, id, at)
}

// scopedCommands keeps every command and history to the request's
// organisation: another organisation's claim is ledger.ErrNotFound, and a
// registration is the partner's organisation's.
type scopedCommands struct{ Commands }

func (c scopedCommands) Register(ctx context.Context, cmd *domain.RegisterClaim, req ledger.Request) (ledger.Result, error) {
	if org, ok := scope(ctx); ok {
		cmd.Organisation = org
		if cmd.Channel == "" {
			cmd.Channel = domain.ChannelPartner
		}
	}
	return c.Commands.Register(ctx, cmd, req)
}

func (c scopedCommands) Execute(ctx context.Context, id uuid.UUID, cmd domain.Command, req ledger.Request) (ledger.Result, error) {
	if err := c.own(ctx, id); err != nil {
		return ledger.Result{}, err
	}
	return c.Commands.Execute(ctx, id, cmd, req)
}

func (c scopedCommands) Claim(ctx context.Context, id uuid.UUID) (domain.State, eventstore.Position, error) {
	st, pos, err := c.Commands.Claim(ctx, id)
	if org, ok := scope(ctx); ok && err == nil {
		if st.Organisation != org {
			return domain.State{}, eventstore.Position{}, ledger.ErrNotFound
		}
		// The company's internal notes stay the company's.
		st.Notes = slices.DeleteFunc(slices.Clone(st.Notes), func(n domain.Note) bool { return n.Visibility != domain.VisibilityCustomer })
	}
	return st, pos, err
}

func (c scopedCommands) Events(ctx context.Context, id uuid.UUID) ([]eventstore.RecordedEvent, error) {
	if err := c.own(ctx, id); err != nil {
		return nil, err
	}
	records, err := c.Commands.Events(ctx, id)
	if _, ok := scope(ctx); ok && err == nil {
		records = slices.DeleteFunc(records, func(r eventstore.RecordedEvent) bool { return domain.IsInternalNote(r.Type, r.Data) })
	}
	return records, err
}

// own answers ledger.ErrNotFound for a claim outside the request's
// organisation.
func (c scopedCommands) own(ctx context.Context, id uuid.UUID) error {
	if _, ok := scope(ctx); !ok {
		return nil
	}
	_, _, err := c.Claim(ctx, id)
	return err
}
