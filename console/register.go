package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// registerView is the registration form, with the values and problems of
// a refused post, and the open claims on the same unit.
type registerView struct {
	Key      string
	Currency string
	Inputs   []inputView
	Problem  string
	Open     []projections.ClaimSummary
	// Confirmed is set once the person saw the open claims and registers
	// anyway.
	Confirmed bool
}

// currencies a price may be in, the console's usual ones first.
var currencies = []string{"EUR", "BGN", "USD", "GBP", "RUB", "CNY", "PLN", "RON"}

func (s *console) registerForm(c *echo.Context) error {
	if !mayWrite(personOf(c)) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	v := registerView{Key: uuid.NewString(), Currency: currencies[0]}
	for _, f := range registerFields {
		v.Inputs = append(v.Inputs, s.input("register", f, "", ""))
	}
	if f := inputByName(v.Inputs, "channel"); f != nil {
		f.Value = domain.ChannelPhone
	}
	return s.render(c, http.StatusOK, "register", "register.title", v)
}

func inputByName(inputs []inputView, name string) *inputView {
	for i := range inputs {
		if inputs[i].Name == name {
			return &inputs[i]
		}
	}
	return nil
}

// openStatuses are those of a claim not yet finished with.
func openOnUnit(page projections.Page) []projections.ClaimSummary {
	return slices.DeleteFunc(page.Items, func(o projections.ClaimSummary) bool {
		return o.Status == domain.StatusClosed || o.Status == domain.StatusRejected
	})
}

// register records a claim from the form. When the serial or IMEI already
// has an open claim, the form comes back once with a warning naming it;
// posting again confirms that this is a new claim.
func (s *console) register(c *echo.Context) error {
	p := personOf(c)
	if !mayWrite(p) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	values, err := c.FormValues()
	if err != nil {
		return s.refuse(c, http.StatusBadRequest, "refused.form")
	}
	key := values.Get("key")
	if key == "" || len(key) > 255 {
		return s.refuse(c, http.StatusBadRequest, "refused.form")
	}
	currency := values.Get("currency")
	if !slices.Contains(currencies, currency) {
		currency = currencies[0]
	}
	v := registerView{Key: key, Currency: currency, Confirmed: values.Get("confirmed") == "yes"}
	ctx := c.Request().Context()
	var cmd domain.RegisterClaim
	invalid := decodeForm(values, registerFields, currency, &cmd)
	if invalid == nil {
		// The fields' own problems first: a warning about the unit would
		// only delay them.
		if err := cmd.Validate(); err != nil && !errors.As(err, &invalid) {
			return s.fail(c, err)
		}
	}
	if invalid == nil && !v.Confirmed {
		for _, unit := range []string{cmd.Product.Serial, cmd.Product.IMEI} {
			if unit = strings.TrimSpace(unit); unit == "" {
				continue
			}
			page, err := s.cfg.Reads.Search(ctx, projections.SearchQuery{Serial: unit, Limit: projections.MaxSearchLimit})
			if err != nil && !errors.Is(err, projections.ErrInvalidQuery) {
				return s.fail(c, err)
			}
			v.Open = append(v.Open, openOnUnit(page)...)
		}
		if len(v.Open) > 0 {
			for _, f := range registerFields {
				v.Inputs = append(v.Inputs, s.input("register", f, values.Get(f.Name), ""))
			}
			return s.render(c, http.StatusOK, "register", "register.title", v)
		}
	}
	if invalid == nil {
		res, err := s.cfg.Commands.Register(ctx, &cmd, ledger.Request{
			Actor: actor(p), CorrelationID: c.Response().Header().Get(echo.HeaderXRequestID), IdempotencyKey: key,
		})
		switch {
		case err == nil:
			return c.Redirect(http.StatusSeeOther, claimHref(res.Claim.ID, res.Position))
		case errors.As(err, &invalid):
		case domain.IsRuleError(err):
			v.Problem = err.Error()
		case errors.Is(err, ledger.ErrIdempotencyKeyReused):
			return s.refuse(c, http.StatusConflict, "refused.key-reused")
		default:
			return s.fail(c, err)
		}
	}
	byField := map[string]string{}
	for _, fe := range invalid {
		if slices.ContainsFunc(registerFields, func(f field) bool { return f.Name == fe.Field }) {
			byField[fe.Field] = fe.Problem
		} else if fe.Field == "price.amount" || strings.HasPrefix(fe.Field, "price") {
			byField["price"] = fe.Problem
		} else {
			v.Problem = joinProblem(v.Problem, fe.Field+": "+fe.Problem)
		}
	}
	for _, f := range registerFields {
		v.Inputs = append(v.Inputs, s.input("register", f, values.Get(f.Name), byField[f.Name]))
	}
	return s.render(c, http.StatusUnprocessableEntity, "register", "register.title", v)
}

// Currencies are the currencies the form offers for the price.
func (registerView) Currencies() []string { return currencies }
