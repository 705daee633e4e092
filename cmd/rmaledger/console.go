package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/console"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// consoleAccounts lets the console sign people in through the accounts
// directory, telling it apart only what the console shows differently.
type consoleAccounts struct{ dir *accounts.Directory }

func (a consoleAccounts) SignIn(ctx context.Context, name, password, client string) (string, error) {
	s, err := a.dir.SignIn(ctx, name, password, client)
	switch {
	case errors.Is(err, accounts.ErrLimited):
		return "", console.ErrTooManyAttempts
	case errors.Is(err, accounts.ErrBadCredentials), errors.Is(err, accounts.ErrDisabled):
		return "", console.ErrBadCredentials
	case err != nil:
		return "", err
	}
	return s.Token, nil
}

func (a consoleAccounts) Verify(ctx context.Context, token string) (console.Person, string, error) {
	acc, s, err := a.dir.Verify(ctx, token)
	switch {
	case errors.Is(err, accounts.ErrBadSession), errors.Is(err, accounts.ErrSessionExpired), errors.Is(err, accounts.ErrDisabled):
		return console.Person{}, "", console.ErrNoSession
	case err != nil:
		return console.Person{}, "", err
	}
	return console.Person{ID: acc.ID.String(), Name: acc.Name, Role: acc.Role, Language: acc.Language, Organisation: acc.Organisation}, s.Token, nil
}

func (a consoleAccounts) SignOut(ctx context.Context, token string) error {
	return a.dir.SignOut(ctx, token)
}

// mountConsole serves the staff console under /console on the API's echo.
func mountConsole(e *echo.Echo, people *accounts.Directory, service *ledger.Service, reads *projections.Runner,
	policies *domain.PolicyBook, zone *time.Location, proxies []netip.Prefix, now func() time.Time, logger *slog.Logger,
	keysFile string, envKeys []api.Key, options ...func(*console.Config),
) error {
	trusted := func(addr netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	}
	cfg := console.Config{
		Accounts: consoleAccounts{people}, Reads: reads, Commands: service,
		Location: zone, Policy: policies.InForce(now()), Clock: now, Logger: logger,
		HTTPS: func(r *http.Request) bool { return accounts.IsHTTPS(r, trusted) },
		Admin: consoleAdmin{
			people: people, reads: reads, policies: policies, keysFile: keysFile, envKeys: envKeys, now: now,
		},
		Directory: consoleAdmin{people: people},
		// The auditor's export withholds what `rmaledger audit export` withholds.
		Audit:   console.LedgerAudit{Store: service.Store(), Trail: reads, Withheld: withheld},
		Finance: reads,
	}
	for _, o := range options {
		o(&cfg)
	}
	return console.Register(e, cfg)
}

// withOutbox gives the console's admins the messages screen and the
// webhooks screen.
func withOutbox(n *notifications) func(*console.Config) {
	return func(c *console.Config) {
		c.Outbox, c.Webhooks, c.WebhookDeliveries = n, n.webhooks, n
	}
}

// withFiles gives the console the claims' files (its claim page's files
// section and upload form), and its audit screen the file store, so that a
// claim's verification checks its files.
func withFiles(f console.Files, blobs audit.FileStore) func(*console.Config) {
	return func(c *console.Config) {
		c.Files = f
		if la, ok := c.Audit.(console.LedgerAudit); ok {
			la.Files = blobs
			c.Audit = la
		}
	}
}
