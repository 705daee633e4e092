package portal

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/portal/links"
)

// The customer's actions, as the claim page names them, and the domain
// action each needs to be allowed now. pay needs the claim to await a
// payment; message and file need nothing but a claim not yet closed.
var customerActions = map[string]domain.Action{
	"accept-estimate":        domain.ActionAcceptEstimate,
	"decline-estimate":       domain.ActionDeclineEstimate,
	"pay":                    domain.ActionRecordPayment,
	"confirm-service-report": domain.ActionConfirmServiceReport,
	"open-dispute":           domain.ActionOpenDispute,
	"withdraw":               domain.ActionWithdraw,
	"message":                domain.ActionAddNote,
	"file":                   domain.ActionAddNote,
}

// claimView is the customer's claim page.
type claimView struct {
	Number     string
	Status     string
	StatusCode string
	Next       string
	Product    string
	Registered string
	Expires    string
	Action     string // the page's own path, which its forms post under
	Done       string // what the last action did
	Failed     string // the action refused, whose text the page keeps
	Errors     map[string]string
	Values     map[string]string
	Key        string
	Estimate   *estimateView
	Report     *reportView
	Notes      []noteView
	Can        map[string]bool
	Bank       *BankAccount
	Uploads    bool
	// Documents are the customer's documents the claim has, to download.
	Documents []documentLink
	// Choices offers the choice of messages; Quiet is the one in force.
	Choices bool
	Quiet   bool
}

type estimateView struct {
	Parts, Labour, Shipping, Total string
	Description                    string
	Decision                       string
}

type reportView struct {
	Resolution string
	WorkDone   string
	Confirmed  bool
}

type noteView struct{ At, Text string }

// opened resolves the request's token into its link and claim; a token
// that opens nothing gets the one "not valid" page, whatever the reason.
func (p *Portal) opened(c *echo.Context) (links.Link, domain.State, *locale, error) {
	ctx := c.Request().Context()
	loc := p.cat.Pick(c.Request().Header.Get("Accept-Language"), c.QueryParam("lang"))
	if wait, limited := p.limited(c); limited {
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return links.Link{}, domain.State{}, loc, p.render(c, http.StatusTooManyRequests, loc, "refused", "refused.title", ResendPath,
			loc.T("error.rate_limited", loc.TimeShort(p.cfg.Now().Add(wait).In(p.cfg.Location))))
	}
	link, err := p.cfg.Links.Resolve(ctx, c.Param("token"))
	if errors.Is(err, links.ErrInvalid) {
		return links.Link{}, domain.State{}, loc, p.render(c, http.StatusNotFound, loc, "invalid", "invalid.title", ResendPath, nil)
	}
	if err != nil {
		return links.Link{}, domain.State{}, loc, p.unavailable(c, loc, err)
	}
	if l, ok := p.cat.Exactly(c.QueryParam("lang")); ok {
		loc = l
	} else if l, ok := p.cat.Exactly(link.Language); ok {
		loc = l
	}
	state, _, err := p.cfg.Ledger.Claim(ctx, link.ClaimID)
	if errors.Is(err, ledger.ErrNotFound) {
		return links.Link{}, domain.State{}, loc, p.render(c, http.StatusNotFound, loc, "invalid", "invalid.title", ResendPath, nil)
	}
	if err != nil {
		return links.Link{}, domain.State{}, loc, p.unavailable(c, loc, err)
	}
	return link, state, loc, nil
}

func (p *Portal) claimPage(c *echo.Context) error {
	link, state, loc, err := p.opened(c)
	if link.ClaimID == uuid.Nil {
		return err
	}
	v := p.claimView(c, loc, link, state)
	if done := c.QueryParam("done"); done != "" {
		if _, ok := customerActions[done]; ok || done == "messages" {
			v.Done = loc.T("done." + done)
		}
	}
	// Back from the payment provider, which adds how the payment went to
	// the return URL (payments.Service).
	switch c.QueryParam("payment") {
	case "succeeded":
		v.Done = loc.T("done.pay")
	case "cancelled":
		v.Done = loc.T("done.pay-cancelled")
	}
	return p.render(c, http.StatusOK, loc, "claim", "claim.title", c.Request().URL.Path, v)
}

func (p *Portal) claimView(c *echo.Context, loc *locale, link links.Link, s domain.State) *claimView {
	v := &claimView{
		Number: s.Number, StatusCode: string(s.Status), Status: loc.T("status." + string(s.Status)),
		Next:       loc.T("next." + nextStep(s)),
		Product:    strings.TrimSpace(loc.T("category."+s.Product.Category) + " " + s.Product.Serial + s.Product.IMEI),
		Registered: loc.date(s.RegisteredAt.In(p.cfg.Location)),
		Expires:    p.expiry(loc, link.ExpiresAt),
		Action:     LinkPrefix + c.Param("token"),
		Errors:     map[string]string{}, Values: map[string]string{},
		Key:     uuid.NewString(),
		Can:     map[string]bool{},
		Uploads: p.cfg.Attachments != nil,
	}
	allowed := domain.AllowedActions(s)
	for name, a := range customerActions {
		v.Can[name] = slices.Contains(allowed, a) && (name != "file" || p.cfg.Attachments != nil) && (name != "pay" || s.Status == domain.StatusEstimateAccepted) &&
			(a != domain.ActionAddNote || s.Status != domain.StatusClosed)
	}
	// A closed claim sends nothing more that a customer could stop.
	if p.cfg.Preferences != nil && s.Status != domain.StatusClosed {
		prefs, err := p.cfg.Preferences.Get(c.Request().Context(), link.ClaimID)
		if err != nil {
			p.cfg.Logger.ErrorContext(c.Request().Context(), "portal: reading the customer's choice of messages failed", "claim", s.Number, "error", err)
		}
		v.Choices, v.Quiet = err == nil, prefs.Quiet
	}
	if v.Can["pay"] && p.cfg.Payments == nil {
		bank := p.cfg.Bank
		v.Bank = &bank
	}
	if e := s.Estimate; e != nil {
		v.Estimate = &estimateView{
			Parts: loc.money(e.Parts), Labour: loc.money(e.Labour), Shipping: loc.money(e.Shipping), Total: loc.money(e.Total),
			Description: e.Description,
		}
		if e.Decision != "" {
			v.Estimate.Decision = loc.T("estimate." + e.Decision)
		}
	}
	if r := s.Resolution; r != nil {
		v.Report = &reportView{Resolution: loc.T("resolution." + r.Kind), Confirmed: !r.ReportConfirmedAt.IsZero()}
		switch {
		case r.Kind == domain.ResolutionResolvedRemotely && s.RemoteResolution != nil:
			v.Report.WorkDone = s.RemoteResolution.WorkDone
		case s.Repair != nil:
			v.Report.WorkDone = s.Repair.WorkDone
		}
	}
	v.Documents = p.customerDocuments(loc, s, v.Action)
	for _, n := range s.Notes {
		if n.Visibility == domain.VisibilityCustomer {
			v.Notes = append(v.Notes, noteView{At: loc.date(n.AddedAt.In(p.cfg.Location)), Text: n.Text})
		}
	}
	return v
}

// nextStep is what the customer should expect or do now, as a message code.
func nextStep(s domain.State) string {
	switch s.Status {
	case domain.StatusRegistered:
		return "awaiting_review"
	case domain.StatusRedirected:
		return "contact_manufacturer_service_center"
	case domain.StatusAuthorized:
		return "ship_item"
	case domain.StatusInTransit:
		return "awaiting_arrival"
	case domain.StatusReceived:
		return "awaiting_diagnosis"
	case domain.StatusDiagnosed:
		return "awaiting_decision"
	case domain.StatusEstimateIssued:
		return "accept_or_decline_estimate"
	case domain.StatusEstimateAccepted:
		return "pay_estimate"
	case domain.StatusPaid:
		return "awaiting_repair"
	case domain.StatusInRepair:
		return "awaiting_repair_completion"
	case domain.StatusResolved:
		if s.Resolution != nil && s.Resolution.ReportConfirmedAt.IsZero() {
			return "confirm_report"
		}
		return "awaiting_return"
	case domain.StatusReturnShipped:
		return "receive_parcel"
	case domain.StatusDisputed:
		return "awaiting_second_review"
	case domain.StatusOnHold:
		return "contact_service"
	}
	return "none"
}

// act answers POST /portal/c/{token}/actions/{action}: the customer's
// action on the claim of the token, and no other, run only when the claim
// allows it now. Success redirects to the claim page (so a reload posts
// nothing); a refusal shows the page again with the field's error.
func (p *Portal) act(c *echo.Context) error {
	link, state, loc, err := p.opened(c)
	if link.ClaimID == uuid.Nil {
		return err
	}
	name := c.Param("action")
	v := p.claimView(c, loc, link, state)
	r := c.Request()
	form := r.PostForm
	if r.MultipartForm != nil {
		form = r.MultipartForm.Value
	}
	get := func(k string) string {
		if vals := form[k]; len(vals) > 0 {
			return strings.TrimSpace(vals[0])
		}
		return ""
	}
	again := func(status int) error {
		v.Failed = name
		return p.render(c, status, loc, "claim", "claim.title", v.Action, v)
	}
	if _, known := customerActions[name]; !known {
		return p.render(c, http.StatusNotFound, loc, "refused", "refused.title", v.Action, loc.T("refused.unknown_action"))
	}
	if !v.Can[name] {
		v.Errors["page"] = loc.T("error.not_now")
		return again(http.StatusConflict)
	}
	key := get(fKey)
	if _, err := uuid.Parse(key); err != nil {
		key = uuid.NewString()
	}
	key = "portal-" + name + "-" + key
	text := get("text")
	if len(text) > maxTextSize {
		v.Values["text"], v.Errors[name] = text, loc.T("error.too_long", maxTextSize)
		return again(http.StatusUnprocessableEntity)
	}
	var cmd domain.Command
	switch name {
	case "accept-estimate":
		cmd = &domain.AcceptEstimate{Reference: "customer portal"}
	case "decline-estimate":
		cmd = &domain.DeclineEstimate{Reason: text}
	case "confirm-service-report":
		cmd = &domain.ConfirmServiceReport{Comment: text}
	case "open-dispute":
		cmd = &domain.OpenDispute{Reason: text}
	case "withdraw":
		cmd = &domain.WithdrawClaim{Reason: text}
	case "message":
		cmd = &domain.AddNote{Text: text, Visibility: domain.VisibilityCustomer}
	case "pay":
		return p.pay(c, loc, link, v)
	case "file":
		return p.upload(c, loc, link, v)
	}
	if (name == "open-dispute" || name == "message") && text == "" {
		v.Errors[name] = loc.T("error.required")
		return again(http.StatusUnprocessableEntity)
	}
	// Withdrawing cannot be undone: it takes a ticked box, not one click.
	if name == "withdraw" && get("confirm") != "yes" {
		v.Values["text"], v.Errors["withdraw-confirm"] = text, loc.T("error.withdraw_confirm")
		return again(http.StatusUnprocessableEntity)
	}
	_, err = p.cfg.Ledger.Execute(r.Context(), link.ClaimID, cmd, customer(key))
	var (
		invalid    domain.ValidationErrors
		transition *domain.InvalidTransitionError
	)
	switch {
	case errors.As(err, &invalid):
		v.Values["text"], v.Errors[name] = text, loc.T("error.invalid")
		return again(http.StatusUnprocessableEntity)
	case errors.As(err, &transition), errors.Is(err, ledger.ErrStaleVersion), errors.Is(err, ledger.ErrConflict),
		errors.Is(err, ledger.ErrIdempotencyKeyReused):
		v.Errors["page"] = loc.T("error.not_now")
		return again(http.StatusConflict)
	case err != nil && domain.IsRuleError(err):
		v.Errors["page"] = loc.T("error.not_now")
		return again(http.StatusUnprocessableEntity)
	case err != nil:
		return p.unavailable(c, loc, err)
	}
	return c.Redirect(http.StatusSeeOther, v.Action+"?done="+name)
}

// pay starts an online payment and sends the customer to the provider.
func (p *Portal) pay(c *echo.Context, loc *locale, link links.Link, v *claimView) error {
	if p.cfg.Payments == nil {
		v.Errors["page"] = loc.T("error.not_now")
		return p.render(c, http.StatusConflict, loc, "claim", "claim.title", v.Action, v)
	}
	to, err := p.cfg.Payments.StartPayment(c.Request().Context(), link.ClaimID, p.origin(c)+v.Action)
	if err != nil {
		p.cfg.Logger.ErrorContext(c.Request().Context(), "portal: starting a payment failed", "claim", v.Number, "error", err)
		v.Errors["pay"] = loc.T("error.payment")
		return p.render(c, http.StatusBadGateway, loc, "claim", "claim.title", v.Action, v)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// upload adds the customer's file to the claim.
func (p *Portal) upload(c *echo.Context, loc *locale, link links.Link, v *claimView) error {
	again := func(status int) error { return p.render(c, status, loc, "claim", "claim.title", v.Action, v) }
	mf := c.Request().MultipartForm
	if mf == nil || len(mf.File["file"]) == 0 || mf.File["file"][0].Filename == "" {
		v.Errors["file"] = loc.T("error.file_required")
		return again(http.StatusUnprocessableEntity)
	}
	if msg := p.attach(c, loc, link.ClaimID, mf.File["file"][0], StepCustomerFile); msg != "" {
		v.Errors["file"] = msg
		return again(http.StatusUnprocessableEntity)
	}
	return c.Redirect(http.StatusSeeOther, v.Action+"?done=file")
}
