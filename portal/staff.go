package portal

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/portal/links"
)

// RevokeLinks ends every private link of the claim (for the staff API).
func (p *Portal) RevokeLinks(ctx context.Context, claimID uuid.UUID, by ledger.Actor) error {
	return p.cfg.Links.Revoke(ctx, claimID, links.Actor{Name: by.Name, Role: by.Role})
}

// ReissueLink issues a new private link to the claim and hands it to the
// Sender, in the language of the claim's latest link (for the staff API).
// The link starts with PublicURL, or else with origin.
func (p *Portal) ReissueLink(ctx context.Context, claimID uuid.UUID, by ledger.Actor, origin string) (time.Time, error) {
	state, _, err := p.cfg.Ledger.Claim(ctx, claimID)
	if err != nil {
		return time.Time{}, err
	}
	lang, err := p.cfg.Links.Language(ctx, claimID)
	if err != nil {
		return time.Time{}, err
	}
	link, err := p.cfg.Links.Issue(ctx, claimID, lang, links.Actor{Name: by.Name, Role: by.Role})
	if err != nil {
		return time.Time{}, err
	}
	if p.cfg.PublicURL != "" {
		u, _ := url.Parse(p.cfg.PublicURL)
		origin = u.Scheme + "://" + u.Host
	}
	m := LinkMessage{ClaimID: claimID, Number: state.Number, Language: lang, URL: origin + LinkPrefix + link.Token, Token: link.Token, ExpiresAt: link.ExpiresAt}
	if err := p.cfg.Sender.SendLink(ctx, m); err != nil {
		return time.Time{}, fmt.Errorf("portal: handing the link to the sender: %w", err)
	}
	return link.ExpiresAt, nil
}
