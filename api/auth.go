package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/internal/ratelimit"
	"github.com/rmaledger/rmaledger/ledger"
)

// Role is what an API key may do.
type Role string

// The roles of the people who use the ledger.
const (
	RoleAgent      Role = "agent"
	RoleTechnician Role = "technician"
	RoleFinance    Role = "finance"
	RoleAuditor    Role = "auditor"
	RoleAdmin      Role = "admin"
	// RolePartner is a dealer's or system integrator's person or key: it
	// registers claims for its own customers and sees and acts on its own
	// organisation's claims only (see organisationGuard).
	RolePartner Role = "partner"
)

// Roles lists the company's staff roles, in the order keys are generated
// for --dev. RolePartner is not among them: a partner's key or account is
// always bound to an organisation.
func Roles() []Role {
	return []Role{RoleAgent, RoleTechnician, RoleFinance, RoleAuditor, RoleAdmin}
}

// AllRoles lists every role: the staff's and RolePartner.
func AllRoles() []Role { return append(Roles(), RolePartner) }

// KnownRole reports whether r is a role of AllRoles.
func KnownRole(r Role) bool { return slices.Contains(AllRoles(), r) }

// CheckOrganisation says whether a key or account of role may be bound to
// org: a partner's must be, to a well-formed name; a staff member's must
// not be, since staff see every organisation's claims.
func CheckOrganisation(role Role, org string) error {
	switch {
	case role == RolePartner && org == "":
		return errors.New("a partner belongs to an organisation: give --org NAME")
	case role == RolePartner && !domain.ValidOrganisation(org):
		return fmt.Errorf("organisation %q: want lower-case letters, digits, '_', '-' or '.', starting with a letter or digit", org)
	case role != RolePartner && org != "":
		return fmt.Errorf("only a partner belongs to an organisation; role %s sees every organisation's claims", role)
	}
	return nil
}

// Permission is a kind of access a route needs.
type Permission string

// The permissions routes ask for.
const (
	// PermWriteClaims registers claims and runs lifecycle actions.
	PermWriteClaims Permission = "claims:write"
	// PermReadClaims reads claims and their histories.
	PermReadClaims Permission = "claims:read"
	// PermOperate inspects and rebuilds read models.
	PermOperate Permission = "operate"
	// PermReadFinance reads compensations and reconciliations.
	PermReadFinance Permission = "finance:read"
	// PermAudit verifies the hash chains, exports the ledger and reads the
	// audit trail.
	PermAudit Permission = "audit:read"
	// PermCheckpoint signs a checkpoint of the ledger on demand.
	PermCheckpoint Permission = "audit:checkpoint"
	// PermReadSLA lists SLA timers: the desk's work list, and the auditor's.
	PermReadSLA Permission = "sla:read"
	// PermErasePersonalData crypto-shreds a customer's personal data.
	PermErasePersonalData Permission = "personal-data:erase"
	// PermRequestPayment creates a payment link for a claim's accepted
	// estimate; it writes no event (the provider's webhook records the payment).
	PermRequestPayment Permission = "payments:request"
	// PermManageWebhooks creates, changes, deletes and replays webhook
	// subscriptions.
	PermManageWebhooks Permission = "webhooks:manage"
	// PermReadWebhooks lists the subscriptions (never their secrets) and
	// what was delivered to them.
	PermReadWebhooks Permission = "webhooks:read"
)

// permissions is the one table of who may do what. Finance and auditors
// read; they never change a claim, so their keys cannot be misused to.
var permissions = map[Permission][]Role{
	PermWriteClaims: {RoleAgent, RoleTechnician, RoleAdmin, RolePartner},
	PermReadClaims:  {RoleAgent, RoleTechnician, RoleFinance, RoleAuditor, RoleAdmin, RolePartner},
	PermOperate:     {RoleAdmin},
	PermReadFinance: {RoleFinance, RoleAuditor, RoleAdmin},
	PermAudit:       {RoleAuditor, RoleAdmin},
	PermCheckpoint:  {RoleAdmin},
	PermReadSLA:     {RoleAgent, RoleTechnician, RoleAuditor, RoleAdmin, RolePartner},
	// Erasure destroys data for good: the one role that also runs the
	// service, never the desk that handles the customer's request.
	PermErasePersonalData: {RoleAdmin},
	// The desk sends the link; finance chases what is owed.
	PermRequestPayment: {RoleAgent, RoleFinance, RoleAdmin},
	// A webhook sends claims' facts out of the company: admins decide
	// where; auditors see where they went.
	PermManageWebhooks: {RoleAdmin},
	PermReadWebhooks:   {RoleAuditor, RoleAdmin},
}

// Allowed reports whether role has permission p.
func Allowed(role Role, p Permission) bool { return slices.Contains(permissions[p], role) }

// partnerActions are the lifecycle actions a partner runs on its own
// organisation's claims: what the dealer does for its customer (send the
// unit in, relay the customer's decisions, confirm the unit came back,
// withdraw, dispute, leave a note). Deciding, repairing and paying stay with
// the company's staff.
var partnerActions = []domain.Action{
	domain.ActionAddNote,
	domain.ActionRecordCustomerShipment,
	domain.ActionAcceptEstimate,
	domain.ActionDeclineEstimate,
	domain.ActionConfirmDelivery,
	domain.ActionOpenDispute,
	domain.ActionWithdraw,
}

// ActionAllowed reports whether role may run action on a claim it may
// write: every action for the staff with PermWriteClaims, partnerActions
// for a partner.
func ActionAllowed(role Role, action domain.Action) bool {
	if !Allowed(role, PermWriteClaims) {
		return false
	}
	return role != RolePartner || slices.Contains(partnerActions, action)
}

const actorKey = "rmaledger.actor"

// authenticate requires a valid bearer key and remembers its actor. Every
// failure is logged (the audit log of failed authentications: address,
// reason, the presented key's fingerprint, never the key) and counted
// against the client's address; an address over the limit gets 429 until
// Retry-After, without its key being looked at.
func authenticate(keys *Keys, failures *ratelimit.Keyed, logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			client := ratelimit.ClientKey(c.RealIP())
			if wait := failures.Wait(client); wait > 0 {
				c.Response().Header().Set("Retry-After", retryAfter(wait))
				return newProblem(http.StatusTooManyRequests, "auth-rate-limited", "Too many failed authentications from your address",
					"retry after the Retry-After header; every request from the address is refused until then")
			}
			key, failure, fingerprint := presentedKey(keys, c.Request().Header.Get(echo.HeaderAuthorization))
			if failure != "" {
				exhausted := failures.Spend(client)
				logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "authentication failed",
					slog.String("address", c.RealIP()), slog.String("reason", failure),
					slog.String("key_fingerprint", fingerprint), slog.String("key_name", key.Name),
					slog.String("method", c.Request().Method), slog.String("path", c.Request().URL.Path),
					slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
					slog.Bool("now_rate_limited", exhausted))
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="rmaledger"`)
				return newProblem(http.StatusUnauthorized, "unauthorized", "Missing or unknown API key", unauthorizedDetail(failure))
			}
			c.Set(actorKey, ledger.Actor{Name: key.Name, Role: string(key.Role), Org: key.Org})
			return next(c)
		}
	}
}

// presentedKey reads the Authorization header and checks its key. The
// fingerprint (the first 4 bytes of the key's SHA-256, as in generated key
// names) lets the log tell attempts apart without holding anything usable.
func presentedKey(keys *Keys, header string) (key Key, failure, fingerprint string) {
	if header == "" {
		return Key{}, failMissing, ""
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Key{}, failMalformed, ""
	}
	h := sha256.Sum256([]byte(token))
	key, failure = keys.check(token)
	return key, failure, hex.EncodeToString(h[:4])
}

// unauthorizedDetail tells the client what to fix. Saying that a key was
// revoked or has expired tells nothing to someone who does not hold it.
func unauthorizedDetail(failure string) string {
	switch failure {
	case failRevoked:
		return "this API key has been revoked"
	case failExpired:
		return "this API key has expired"
	}
	return "send Authorization: Bearer <key>"
}

// require allows the route only to roles with permission p.
func require(p Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			actor := actorOf(c)
			if !Allowed(Role(actor.Role), p) {
				return newProblem(http.StatusForbidden, "forbidden", "Your role may not do this", fmt.Sprintf("role %s lacks %s", actor.Role, p))
			}
			return next(c)
		}
	}
}

func actorOf(c *echo.Context) ledger.Actor {
	a, _ := c.Get(actorKey).(ledger.Actor)
	return a
}
