package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v5"

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
)

// Roles lists every role, in the order keys are generated for --dev.
func Roles() []Role {
	return []Role{RoleAgent, RoleTechnician, RoleFinance, RoleAuditor, RoleAdmin}
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
)

// permissions is the one table of who may do what. Finance and auditors
// read; they never change a claim, so their keys cannot be misused to.
var permissions = map[Permission][]Role{
	PermWriteClaims: {RoleAgent, RoleTechnician, RoleAdmin},
	PermReadClaims:  {RoleAgent, RoleTechnician, RoleFinance, RoleAuditor, RoleAdmin},
	PermOperate:     {RoleAdmin},
}

// Allowed reports whether role has permission p.
func Allowed(role Role, p Permission) bool { return slices.Contains(permissions[p], role) }

// MinKeyLength is the shortest API key accepted: shorter keys can be guessed.
const MinKeyLength = 16

// Key is a configured API key, kept only as a hash.
type Key struct {
	// Name identifies the key in event metadata and logs; the key itself never appears.
	Name string
	Role Role
	hash [sha256.Size]byte
}

// Keys checks bearer tokens against the configured keys.
type Keys struct {
	keys []Key
}

// ParseKeys reads "role:key,role:key". Each key is named after its role and
// a short fingerprint of its hash, e.g. "agent-3f9a1c2e".
func ParseKeys(spec string) (*Keys, error) {
	ks := &Keys{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		role, secret, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("api key %q: want role:key", redact(item))
		}
		if !slices.Contains(Roles(), Role(role)) {
			return nil, fmt.Errorf("api key for unknown role %q (roles: agent, technician, finance, auditor, admin)", role)
		}
		if len(secret) < MinKeyLength {
			return nil, fmt.Errorf("api key for role %s is shorter than %d characters", role, MinKeyLength)
		}
		if err := ks.Add(Role(role), secret); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// Add registers a key.
func (ks *Keys) Add(role Role, secret string) error {
	h := sha256.Sum256([]byte(secret))
	for _, k := range ks.keys {
		if k.hash == h {
			return fmt.Errorf("api key for role %s is configured twice", role)
		}
	}
	ks.keys = append(ks.keys, Key{Name: string(role) + "-" + hex.EncodeToString(h[:4]), Role: role, hash: h})
	return nil
}

// Len is the number of keys.
func (ks *Keys) Len() int { return len(ks.keys) }

// Lookup finds the key a bearer token presents. Every configured key is
// compared in constant time, so timing tells nothing about which matched.
func (ks *Keys) Lookup(token string) (Key, bool) {
	h := sha256.Sum256([]byte(token))
	var found Key
	ok := 0
	for _, k := range ks.keys {
		if subtle.ConstantTimeCompare(k.hash[:], h[:]) == 1 {
			found, ok = k, 1
		}
	}
	return found, ok == 1
}

func redact(s string) string {
	if role, _, ok := strings.Cut(s, ":"); ok {
		return role + ":***"
	}
	return "***"
}

const actorKey = "rmaledger.actor"

// authenticate requires a valid bearer key and remembers its actor.
func authenticate(keys *Keys) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
			key, ok := Key{}, false
			if strings.EqualFold(scheme, "Bearer") && token != "" {
				key, ok = keys.Lookup(strings.TrimSpace(token))
			}
			if !ok {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="rmaledger"`)
				return newProblem(http.StatusUnauthorized, "unauthorized", "Missing or unknown API key", "send Authorization: Bearer <key>")
			}
			c.Set(actorKey, ledger.Actor{Name: key.Name, Role: string(key.Role)})
			return next(c)
		}
	}
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
