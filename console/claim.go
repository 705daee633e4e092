package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// mayWrite reports whether the person's role may run actions and register
// claims: the API's own table, so that a role has the same rights on both.
func mayWrite(p Person) bool { return api.Allowed(api.Role(p.Role), api.PermWriteClaims) }

// mayRead reports whether the role may read claims.
func mayRead(p Person) bool { return api.Allowed(api.Role(p.Role), api.PermReadClaims) }

// steps are the stepper's stations: the usual road of a claim.
var steps = []domain.Status{
	domain.StatusRegistered, domain.StatusAuthorized, domain.StatusReceived, domain.StatusDiagnosed,
	domain.StatusInRepair, domain.StatusResolved, domain.StatusReturnShipped, domain.StatusDelivered, domain.StatusClosed,
}

// stepOf places a status off the usual road on the station it waits
// beside: a claim in transit is still at "authorized", an estimate belongs
// to the diagnosis. A claim on hold shows no station.
var stepOf = map[domain.Status]domain.Status{
	domain.StatusRedirected:       domain.StatusRegistered,
	domain.StatusRejected:         domain.StatusRegistered,
	domain.StatusInTransit:        domain.StatusAuthorized,
	domain.StatusEstimateIssued:   domain.StatusDiagnosed,
	domain.StatusEstimateAccepted: domain.StatusDiagnosed,
	domain.StatusPaid:             domain.StatusDiagnosed,
	domain.StatusDisputed:         domain.StatusDelivered,
}

// stationOf is the stepper's station of a claim: its status, or the
// station it waits beside. An estimate quoted and paid before the goods
// travel waits at "authorized": nothing was received or diagnosed yet.
func stationOf(st domain.State) domain.Status {
	station := st.Status
	if near, ok := stepOf[station]; ok {
		station = near
	}
	if station == domain.StatusDiagnosed && st.Intake == nil {
		station = domain.StatusAuthorized
	}
	return station
}

type stepView struct {
	Status        domain.Status
	Done, Current bool
}

// eventView is one line of the timeline.
type eventView struct {
	Type, Actor, Role, Action string
	At                        time.Time
	Internal                  bool
	Details                   []detail
}

type detail struct{ Key, Value string }

// inputView is one field of a form as drawn: its value and its problem.
type inputView struct {
	field
	ID, Value, Problem string
	Options            []string
}

// formView is an action's form.
type formView struct {
	Action  domain.Action
	Href    string
	Version int64
	Key     string
	Inputs  []inputView
	Problem string // a problem of the whole command
	Open    bool
}

type claimView struct {
	State       domain.State
	Steps       []stepView
	Clocks      []projections.Timer
	Others      []projections.ClaimSummary
	Events      []eventView
	Forms       []formView
	Writer      bool
	Outstanding []string
	// TakeOwnership assigns the claim to the signed-in person in one
	// click; nil when they already own it or may not assign it.
	TakeOwnership *formView
}

// others are the other claims on the same unit.
func (s *console) others(c *echo.Context, st domain.State) ([]projections.ClaimSummary, error) {
	unit := st.Product.Serial
	if unit == "" {
		unit = st.Product.IMEI
	}
	if unit == "" {
		return nil, nil
	}
	page, err := s.cfg.Reads.Search(c.Request().Context(), projections.SearchQuery{Serial: unit, Limit: projections.MaxSearchLimit})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(page.Items, func(o projections.ClaimSummary) bool { return o.ID == st.ID }), nil
}

// claimPage gathers a claim's page; form, when set, replaces the blank
// form of its action (with the values and problems of a refused post).
func (s *console) claimPage(c *echo.Context, id uuid.UUID, form *formView) (claimView, error) {
	ctx := c.Request().Context()
	st, _, err := s.cfg.Commands.Claim(ctx, id)
	if err != nil {
		return claimView{}, err
	}
	records, err := s.cfg.Commands.Events(ctx, id)
	if err != nil {
		return claimView{}, err
	}
	v := claimView{State: st, Writer: mayWrite(personOf(c)), Outstanding: st.DocumentsOutstanding()}
	at := slices.Index(steps, stationOf(st))
	for i, step := range steps {
		v.Steps = append(v.Steps, stepView{Status: step, Done: at >= 0 && i < at, Current: i == at})
	}
	if api.Allowed(api.Role(personOf(c).Role), api.PermReadSLA) {
		if v.Clocks, err = s.cfg.Reads.ClaimClocks(ctx, id, s.cfg.Clock()); err != nil && !errors.Is(err, projections.ErrNotFound) {
			return claimView{}, err
		}
	}
	if v.Others, err = s.others(c, st); err != nil {
		return claimView{}, err
	}
	for _, r := range records {
		v.Events = append(v.Events, eventOf(r))
	}
	slices.Reverse(v.Events) // newest first
	if v.Writer {
		for _, a := range domain.AllowedActions(st) {
			fields, ok := forms[a]
			if !ok || !mayRunAction(personOf(c), a) {
				continue
			}
			if form != nil && form.Action == a {
				v.Forms = append(v.Forms, *form)
				continue
			}
			v.Forms = append(v.Forms, s.blankForm(st, a, fields))
		}
		if err := s.offerPeople(ctx, v.Forms); err != nil {
			return claimView{}, err
		}
		if me := personOf(c).Name; me != "" && me != st.Assignee && slices.Contains(domain.AllowedActions(st), domain.ActionAssign) && mayRunAction(personOf(c), domain.ActionAssign) {
			own := s.blankForm(st, domain.ActionAssign, nil)
			own.Inputs = []inputView{{field: field{Name: "assignee"}, Value: me}}
			v.TakeOwnership = &own
		}
	}
	return v, nil
}

// offerPeople turns the assign form's assignee into a choice of the
// people the directory lists (active ones, by name), with "" to unassign.
func (s *console) offerPeople(ctx context.Context, forms []formView) error {
	if s.cfg.Directory == nil {
		return nil
	}
	for i := range forms {
		for j := range forms[i].Inputs {
			in := &forms[i].Inputs[j]
			if forms[i].Action != domain.ActionAssign || in.Name != "assignee" {
				continue
			}
			people, err := s.cfg.Directory.People(ctx)
			if err != nil {
				return err
			}
			in.Kind, in.Options = kindChoice, []string{""}
			for _, p := range people {
				if !p.Disabled && mayWrite(Person{Role: p.Role}) {
					in.Options = append(in.Options, p.Name)
				}
			}
		}
	}
	return nil
}

// blankForm is an action's form as first shown: the claim's version and a
// fresh idempotency key, so that a double submit writes once.
func (s *console) blankForm(st domain.State, a domain.Action, fields []field) formView {
	f := formView{Action: a, Href: fmt.Sprintf("%s/claims/%s/actions/%s", Prefix, st.ID, a), Version: st.Version, Key: uuid.NewString()}
	for _, fl := range fields {
		f.Inputs = append(f.Inputs, s.input(string(a), fl, "", ""))
	}
	return f
}

func (s *console) input(form string, f field, value, problem string) inputView {
	in := inputView{field: f, ID: form + "-" + f.Name, Value: value, Problem: problem, Options: f.Options}
	if f.Name == "void_reason_code" {
		in.Options = []string{""}
		if s.cfg.Policy.Warranty != nil {
			in.Options = append(in.Options, s.cfg.Policy.Warranty.VoidReasons...)
		}
	}
	return in
}

// eventOf reads a stored event for the timeline.
func eventOf(r eventstore.RecordedEvent) eventView {
	meta, _ := eventlog.DecodeMetadata(r.Metadata)
	e := eventView{Type: r.Type, Actor: meta.Actor, Role: meta.Role, Action: meta.Action, At: meta.OccurredAt}
	if e.At.IsZero() {
		e.At = r.Created
	}
	var data map[string]any
	if json.Unmarshal(r.Data, &data) == nil {
		if v, _ := data["visibility"].(string); v == domain.VisibilityInternal || (r.Type == "claim.note_added.v1" && v == "") {
			e.Internal = true
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			switch val := data[k].(type) {
			case string:
				if val != "" && k != "at" && k != "claim_id" {
					e.Details = append(e.Details, detail{k, val})
				}
			case bool:
				e.Details = append(e.Details, detail{k, strconv.FormatBool(val)})
			case float64:
				e.Details = append(e.Details, detail{k, strconv.FormatFloat(val, 'f', -1, 64)})
			case map[string]any:
				if amount, ok := val["amount"].(string); ok {
					cur, _ := val["currency"].(string)
					e.Details = append(e.Details, detail{k, amount + " " + cur})
				}
			}
		}
	}
	return e
}

// claimHref is a claim's page after a write at pos: the page waits briefly
// for the read models to hold it, so that its clocks and queues include it.
func claimHref(id uuid.UUID, pos eventstore.Position) string {
	return fmt.Sprintf("%s/claims/%s?after=%s", Prefix, id, url.QueryEscape(pos.String()))
}

// readYourWrite waits, at most a moment, for the read models to reach the
// position a write of this person answered.
func (s *console) readYourWrite(c *echo.Context) {
	pos, err := eventstore.ParsePosition(c.QueryParam("after"))
	if err != nil || c.QueryParam("after") == "" {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	_ = s.cfg.Reads.WaitFor(ctx, pos) // a slow read model shows the page a little behind, not an error
}

func claimIDParam(c *echo.Context) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param("id"))
	return id, err == nil && id != uuid.Nil
}

func (s *console) claim(c *echo.Context) error {
	if !mayRead(personOf(c)) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	id, ok := claimIDParam(c)
	if !ok {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	s.readYourWrite(c)
	v, err := s.claimPage(c, id, nil)
	if errors.Is(err, ledger.ErrNotFound) {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	if err != nil {
		return s.fail(c, err)
	}
	return s.render(c, http.StatusOK, "claim", "claim.title", v)
}

// conflictView is what changed since the person loaded the claim.
type conflictView struct {
	State   domain.State
	Seen    int64
	Changes []eventView
	Href    string
	// Action and Typed are the change that was not written, so that
	// nothing the person typed is lost.
	Action domain.Action
	Typed  []detail
}

// act runs an action from its form: the API's permission, the claim's
// version the person saw as If-Match, the form's key as Idempotency-Key.
func (s *console) act(c *echo.Context) error {
	p := personOf(c)
	id, ok := claimIDParam(c)
	if !ok {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	action, ok := domain.ParseAction(c.Param("action"))
	fields, hasForm := forms[action]
	if !ok || !hasForm {
		return s.refuse(c, http.StatusNotFound, "refused.no-action")
	}
	if !mayWrite(p) || !mayRunAction(p, action) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	version, err := strconv.ParseInt(c.FormValue("version"), 10, 64)
	key := c.FormValue("key")
	if err != nil || version < 1 || key == "" || len(key) > 255 {
		return s.refuse(c, http.StatusBadRequest, "refused.form")
	}
	ctx := c.Request().Context()
	st, _, err := s.cfg.Commands.Claim(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	if err != nil {
		return s.fail(c, err)
	}
	values, err := c.FormValues()
	if err != nil {
		return s.refuse(c, http.StatusBadRequest, "refused.form")
	}
	cmd, _ := domain.NewCommand(action)
	problems := decodeForm(values, fields, st.Price.Currency, cmd)
	if problems == nil {
		var res ledger.Result
		res, err = s.cfg.Commands.Execute(ctx, id, cmd, ledger.Request{
			Actor: actor(p), CorrelationID: c.Response().Header().Get(echo.HeaderXRequestID),
			IdempotencyKey: key, IfMatch: &version,
		})
		if err == nil {
			return c.Redirect(http.StatusSeeOther, claimHref(id, res.Position))
		}
	}
	var stale *ledger.StaleVersionError
	var transition domain.InvalidTransitionError
	var invalid domain.ValidationErrors
	status := http.StatusUnprocessableEntity
	form := formView{Action: action, Href: fmt.Sprintf("%s/claims/%s/actions/%s", Prefix, id, action), Version: version, Key: key, Open: true}
	switch {
	case problems != nil:
		invalid = problems
	case errors.As(err, &stale):
		var typed []detail
		for _, f := range fields {
			if v := values.Get(f.Name); v != "" {
				typed = append(typed, detail{f.Name, v})
			}
		}
		return s.conflict(c, id, stale.Expected, action, typed)
	case errors.As(err, &transition):
		return s.refuse(c, http.StatusConflict, "refused.transition")
	case errors.Is(err, ledger.ErrIdempotencyKeyReused):
		return s.refuse(c, http.StatusConflict, "refused.key-reused")
	case errors.As(err, &invalid):
	case domain.IsRuleError(err):
		form.Problem = err.Error()
	default:
		return s.fail(c, err)
	}
	byField := map[string]string{}
	for _, fe := range invalid {
		if slices.ContainsFunc(fields, func(f field) bool { return f.Name == fe.Field }) {
			byField[fe.Field] = fe.Problem
		} else {
			form.Problem = joinProblem(form.Problem, fe.Field+": "+fe.Problem)
		}
	}
	for _, f := range fields {
		form.Inputs = append(form.Inputs, s.input(string(action), f, values.Get(f.Name), byField[f.Name]))
	}
	v, err := s.claimPage(c, id, &form)
	if err != nil {
		return s.fail(c, err)
	}
	return s.render(c, status, "claim", "claim.title", v)
}

func joinProblem(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// conflict shows what changed on the claim since the version the person
// saw, and writes nothing: they decide again on the claim as it is.
func (s *console) conflict(c *echo.Context, id uuid.UUID, seen int64, action domain.Action, typed []detail) error {
	ctx := c.Request().Context()
	st, _, err := s.cfg.Commands.Claim(ctx, id)
	if err != nil {
		return s.fail(c, err)
	}
	records, err := s.cfg.Commands.Events(ctx, id)
	if err != nil {
		return s.fail(c, err)
	}
	v := conflictView{State: st, Seen: seen, Href: fmt.Sprintf("%s/claims/%s", Prefix, id), Action: action, Typed: typed}
	for i, r := range records {
		if int64(i) >= seen {
			v.Changes = append(v.Changes, eventOf(r))
		}
	}
	return s.render(c, http.StatusConflict, "conflict", "conflict.title", v)
}
