package portal

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/projections"
)

// resendView is the "send me my link again" form.
type resendView struct {
	Values  map[string]string
	Errors  map[string]string
	Problem string
}

func (p *Portal) resendForm(c *echo.Context) error {
	loc := p.cat.Pick(c.Request().Header.Get("Accept-Language"), c.QueryParam("lang"))
	return p.render(c, http.StatusOK, loc, "resend", "resend.title", ResendPath, &resendView{Values: map[string]string{}, Errors: map[string]string{}})
}

// resend answers POST /portal/link. Whether the number and the contact
// match a claim or not, the answer is the same page; when they match, a
// new link goes to the Sender, never to the page.
func (p *Portal) resend(c *echo.Context) error {
	r := c.Request()
	loc := p.cat.Pick(r.Header.Get("Accept-Language"), r.PostForm.Get("lang"))
	v := &resendView{Values: map[string]string{}, Errors: map[string]string{}}
	number := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("number")))
	contact := strings.TrimSpace(r.PostForm.Get("contact"))
	v.Values["number"], v.Values["contact"] = number, contact
	if number == "" || len(number) > 64 {
		v.Errors["number"] = loc.T("error.required")
	}
	if contact == "" || len(contact) > maxLineSize {
		v.Errors["contact"] = loc.T("error.required")
	}
	if len(v.Errors) > 0 {
		return p.render(c, http.StatusUnprocessableEntity, loc, "resend", "resend.title", ResendPath, v)
	}
	if wait, limited := p.limited(c, contactKey("number", number), contactKey("contact", strings.ToLower(contact))); limited {
		v.Problem = loc.T("error.rate_limited", loc.TimeShort(p.cfg.Now().Add(wait).In(p.cfg.Location)))
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return p.render(c, http.StatusTooManyRequests, loc, "resend", "resend.title", ResendPath, v)
	}
	start := time.Now()
	if err := p.resendTo(c, number, contact); err != nil {
		// The failure is logged; the answer stays the one everybody gets.
		p.cfg.Logger.ErrorContext(r.Context(), "portal: sending a link again failed", "error", err)
	}
	// A match does more work than a miss: both answer after ResendTime.
	select {
	case <-time.After(p.cfg.ResendTime - time.Since(start)):
	case <-r.Context().Done():
	}
	return p.render(c, http.StatusOK, loc, "sent", "sent.title", ResendPath, nil)
}

// resendTo issues a new link when the contact is the claim's registered
// e-mail or phone.
func (p *Portal) resendTo(c *echo.Context, number, contact string) error {
	ctx := c.Request().Context()
	page, err := p.cfg.Finder.Search(ctx, projections.SearchQuery{Number: number, Limit: 1})
	if err != nil || len(page.Items) == 0 {
		return err
	}
	state, _, err := p.cfg.Ledger.Claim(ctx, page.Items[0].ID)
	if err != nil {
		return err
	}
	if !contactMatches(state.Customer, contact) {
		return nil
	}
	lang, err := p.cfg.Links.Language(ctx, state.ID)
	if err != nil {
		return err
	}
	_, _, err = p.issueLink(c, state.ID, state.Number, lang)
	return err
}

// contactMatches compares a contact with the registered e-mail (without
// case) or phone (in any of the forms the status page reads).
func contactMatches(who domain.Customer, contact string) bool {
	if strings.Contains(contact, "@") {
		return who.Email != "" && strings.EqualFold(domain.NormalizeEmail(who.Email), domain.NormalizeEmail(contact))
	}
	stored := domain.PhoneCandidates(who.Phone)
	for _, c := range domain.PhoneCandidates(contact) {
		if slices.Contains(stored, c) {
			return true
		}
	}
	return false
}
