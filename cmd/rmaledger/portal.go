package main

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/notify/preferences"
	"github.com/rmaledger/rmaledger/notify/webhooks"
	"github.com/rmaledger/rmaledger/payments"
	"github.com/rmaledger/rmaledger/portal"
	"github.com/rmaledger/rmaledger/portal/links"
	"github.com/rmaledger/rmaledger/projections"
)

// withheld names the streams an audit export shows only as hashes: the
// accounts' (password hashes, the session key), the portal's private
// links (capability hashes) and the webhook subscriptions (their secrets).
func withheld(stream string) bool {
	return accounts.Withheld(stream) || links.Withheld(stream) || webhooks.Withheld(stream)
}

// newPortal builds the customer portal on the ledger, the claims read
// model and the store, which keeps its private links and the customers'
// choices of messages; claimFiles keeps the customers' receipts and
// photos, online, when it offers a provider, takes their payments, and the
// links it issues go to the customers through sender.
func newPortal(cfg config, store eventstore.Store, service *ledger.Service, reads *projections.Runner, claimFiles *files.Service,
	online *payments.Service, sender portal.Sender, papers portal.Documents, proxies []netip.Prefix, zone *time.Location, now func() time.Time, logger *slog.Logger,
) (*portal.Portal, error) {
	keeper, err := links.New(links.Config{Store: store, Now: now})
	if err != nil {
		return nil, err
	}
	trusted := func(addr netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	}
	var pay portal.Payments // nil: the claim page shows the bank transfer
	if online != nil && online.Offered() {
		pay = online
	}
	return portal.New(portal.Config{
		Ledger: service, Finder: reads, Links: keeper, Sender: sender, Payments: pay, Attachments: claimFiles, PublicURL: cfg.PublicURL,
		Preferences: preferences.Keeper{Store: store, Now: now},
		Documents:   papers,
		HTTPS:       func(r *http.Request) bool { return accounts.IsHTTPS(r, trusted) },
		Location:    zone, Now: now, Logger: logger,
	})
}

// portalBody selects the portal's requests, which bound their bodies
// themselves (uploads are larger than the API's MaxBodyBytes).
func portalBody(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, portal.Prefix+"/") }
