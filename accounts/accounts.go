// Package accounts keeps the people who sign in to the staff console and
// their sessions.
//
// An account is a stream of events in the event store (account-<uuid>), so
// every instance of the service serving one store sees the same people. The
// stream's id is derived from the lower-cased name, so creating it with
// expected revision NoStream is also the check that the name is free: two
// instances adding one name at once cannot both succeed. A Directory folds
// the streams into memory and catches up with the store before every
// answer.
//
// A session is a signed token (HMAC-SHA256) kept in a cookie, with a key
// stored once in the event store (eventlog.ConsoleKeyStream) and shared by every instance,
// so a request may land on any of them. A token carries the account, a
// session id, when it was issued and last used, and the account's epoch,
// which a password change or a disable advances: that ends every session
// the account had. Signing out is an event too, so it ends the session on
// every instance.
//
// The key and the password hashes live in the event log: whoever can read
// the log (its backups, a full audit export) can forge a session, so the
// log is to be guarded like a secret.
package accounts

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rmaledger/rmaledger/eventlog"
)

// Errors of the directory, matched with errors.Is.
var (
	// ErrBadCredentials means the name is unknown or the password wrong; the
	// two are not told apart.
	ErrBadCredentials = errors.New("accounts: wrong name or password")
	// ErrLimited means too many failed sign-ins for the account or the
	// address; a *LimitedError tells how long to wait.
	ErrLimited = errors.New("accounts: too many failed sign-ins")
	// ErrDisabled means the account is disabled.
	ErrDisabled = errors.New("accounts: the account is disabled")
	// ErrNameTaken means an account of that name (in any case) exists.
	ErrNameTaken = errors.New("accounts: the name is taken")
	// ErrNotFound means no account has that name or id.
	ErrNotFound = errors.New("accounts: no such account")
	// ErrSessionExpired means the session passed its idle or absolute limit,
	// was signed out, or ended when the account's password changed or the
	// account was disabled.
	ErrSessionExpired = errors.New("accounts: the session has ended")
	// ErrBadSession means the token is not one this service signed.
	ErrBadSession = errors.New("accounts: not a valid session")
	// ErrInvalid means a name, role or language is not acceptable; nothing
	// was written. An *InvalidError says which.
	ErrInvalid = errors.New("accounts: invalid")
)

// LimitedError is ErrLimited with the wait before the next attempt.
type LimitedError struct {
	RetryAfter time.Duration
}

// Error says how long to wait.
func (e *LimitedError) Error() string {
	return fmt.Sprintf("%s: try again in %s", ErrLimited, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrLimited) true.
func (e *LimitedError) Is(target error) bool { return target == ErrLimited }

// InvalidError is ErrInvalid with the field and the reason.
type InvalidError struct {
	Field  string
	Reason string
}

// Error names the field and the reason.
func (e *InvalidError) Error() string { return fmt.Sprintf("accounts: %s: %s", e.Field, e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Account is a person who may sign in.
type Account struct {
	ID   uuid.UUID
	Name string
	Role string
	// Organisation is the partner organisation the person works for (a
	// dealer or system integrator), who then sees its claims only; empty
	// for the company's staff, and for every account added before
	// partners existed.
	Organisation string
	Disabled     bool
	// Language is the person's chosen language tag (BCP 47); empty: none chosen.
	Language string
	Created  time.Time
	// PasswordChanged is when the password was last set.
	PasswordChanged time.Time
}

// Session is a signed-in session.
type Session struct {
	ID        string
	AccountID uuid.UUID
	IssuedAt  time.Time
	// ExpiresAt is the earlier of the idle and the absolute limit.
	ExpiresAt time.Time
	// Token is the cookie's value. Verify returns a renewed one that
	// restarts the idle limit; set the cookie again with it.
	Token string
	// CSRF is the token every form of the session carries; check it with
	// Directory.CheckCSRF.
	CSRF string
}

// Actor is who performs a change, recorded in the event's metadata.
type Actor struct {
	Name string
	Role string
}

// Withheld reports the streams whose content must never leave the ledger in an
// audit export (audit.ExportOptions.Withheld): the accounts, which hold password
// hashes, and the key that signs sessions.
func Withheld(stream string) bool {
	return eventlog.Accounts.Holds(stream) || stream == eventlog.ConsoleKeyStream
}

// Stream names and event types.
const (
	// Each account's events are in its stream, eventlog.Accounts.Stream(id).

	typeAdded           = "account.added.v1"
	typePasswordChanged = "account.password_changed.v1"
	typeDisabled        = "account.disabled.v1"
	typeEnabled         = "account.enabled.v1"
	typeRoleChanged     = "account.role_changed.v1"
	typeLanguageSet     = "account.language_set.v1"
	typeSignedOut       = "account.signed_out.v1"
)

// accountNamespace derives account ids from names (UUID v5).
var accountNamespace = uuid.MustParse("6f1d0c3e-7a52-4d0b-9a51-3c1e9e0d2b47")

// IDFor is the id of the account with the name, whoever adds it: names are
// compared without case.
func IDFor(name string) uuid.UUID {
	return uuid.NewSHA1(accountNamespace, []byte(strings.ToLower(strings.TrimSpace(name))))
}

var nameRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// checkName: 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a
// letter or digit (a name is the actor on every event the person causes).
func checkName(name string) error {
	if !nameRule.MatchString(name) {
		return &InvalidError{Field: "name", Reason: "1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"}
	}
	return nil
}
