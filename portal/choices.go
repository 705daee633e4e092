package portal

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/notify"
)

// The choices of the messages form.
const (
	choiceAll       = "all"
	choiceEssential = "essential"
)

// choose answers POST /portal/c/{token}/messages: the customer wants every
// message about the claim, or only those that need them to act (its
// number and link, what to send where, an estimate, the item shipped
// back, the answer to an appeal).
func (p *Portal) choose(c *echo.Context) error {
	link, state, loc, err := p.opened(c)
	if link.ClaimID == uuid.Nil {
		return err
	}
	v := p.claimView(c, loc, link, state)
	if p.cfg.Preferences == nil {
		return p.render(c, http.StatusNotFound, loc, "refused", "refused.title", v.Action, loc.T("refused.unknown_action"))
	}
	var quiet bool
	switch c.Request().PostForm.Get("messages") {
	case choiceAll:
	case choiceEssential:
		quiet = true
	default:
		v.Errors["messages"] = loc.T("error.required")
		return p.render(c, http.StatusUnprocessableEntity, loc, "claim", "claim.title", v.Action, v)
	}
	if err := p.cfg.Preferences.Set(c.Request().Context(), link.ClaimID, notify.Preferences{Quiet: quiet}, "customer", "customer"); err != nil {
		return p.unavailable(c, loc, err)
	}
	return c.Redirect(http.StatusSeeOther, v.Action+"?done=messages")
}
