package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
)

// ClaimResponse is a claim as the API shows it: its state, what may be done
// next, and where its last event stands in the log.
type ClaimResponse struct {
	domain.State
	AllowedActions []domain.Action `json:"allowed_actions"`
	// NextAction is the step the claim waits for, from the claims read
	// model (reads only).
	NextAction domain.Action `json:"next_action,omitempty"`
	// Position of the claim's last event as an opaque string: pass it back
	// as min_position for read-your-writes.
	Position string `json:"position,omitempty"`
	// Clocks are the claim's SLA clocks, from the timers read model (reads
	// only).
	Clocks []ClockView `json:"clocks,omitempty"`
	// DocumentsOutstanding are the documents requested at authorization
	// that have not been received.
	DocumentsOutstanding []string `json:"documents_outstanding,omitempty"`
}

func claimResponse(state domain.State, pos eventstore.Position) ClaimResponse {
	allowed := domain.AllowedActions(state)
	if allowed == nil {
		allowed = []domain.Action{}
	}
	return ClaimResponse{State: state, AllowedActions: allowed, Position: positionString(pos), DocumentsOutstanding: state.DocumentsOutstanding()}
}

// EventResponse is one stored event in a claim's history.
type EventResponse struct {
	EventID    uuid.UUID       `json:"event_id"`
	Type       string          `json:"type"`
	Revision   uint64          `json:"revision"`
	Position   string          `json:"position,omitempty"`
	RecordedAt time.Time       `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata"`
}

// EventsResponse is a claim's full history in order.
type EventsResponse struct {
	ClaimID uuid.UUID       `json:"claim_id"`
	Events  []EventResponse `json:"events"`
}

func (s *server) registerClaim(c *echo.Context) error {
	var cmd domain.RegisterClaim
	if err := decodeJSON(c, &cmd, false); err != nil {
		return err
	}
	if org := callerOrganisation(c); org != "" {
		if cmd.Organisation != "" && cmd.Organisation != org {
			return newProblem(http.StatusForbidden, "forbidden", "A partner registers claims for its own organisation only",
				"leave organisation out, or give your own: "+org)
		}
		cmd.Organisation = org
		if cmd.Channel == "" {
			cmd.Channel = domain.ChannelPartner
		}
	}
	req, err := s.request(c)
	if err != nil {
		return err
	}
	res, err := s.cfg.Ledger.Register(c.Request().Context(), &cmd, req)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/claims/"+res.Claim.ID.String())
	return s.writeResult(c, http.StatusCreated, res)
}

func (s *server) runAction(c *echo.Context) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	action, ok := domain.ParseAction(c.Param("action"))
	if !ok {
		return newProblem(http.StatusNotFound, "unknown-action", "No such action", "actions: "+joinActions(domain.Actions()))
	}
	cmd, ok := domain.NewCommand(action)
	if !ok {
		return newProblem(http.StatusNotFound, "unknown-action", "No such action", string(action))
	}
	if role := Role(actorOf(c).Role); !ActionAllowed(role, action) {
		return newProblem(http.StatusForbidden, "forbidden", "Your role may not do this", "role "+string(role)+" may not "+string(action))
	}
	if err := decodeJSON(c, cmd, true); err != nil {
		return err
	}
	req, err := s.request(c)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(c.Request().Header.Values("If-Match"))
	if err != nil {
		return err
	}
	req.IfMatch = ifMatch
	res, err := s.cfg.Ledger.Execute(c.Request().Context(), id, cmd, req)
	if err != nil {
		return err
	}
	return s.writeResult(c, http.StatusOK, res)
}

func (s *server) getEvents(c *echo.Context) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	records, err := s.cfg.Ledger.Events(c.Request().Context(), id)
	if err != nil {
		return err
	}
	records = eventsForCaller(c, records)
	out := EventsResponse{ClaimID: id, Events: make([]EventResponse, len(records))}
	for i, r := range records {
		out.Events[i] = EventResponse{
			EventID: r.ID, Type: r.Type, Revision: r.Revision,
			RecordedAt: r.Created, Data: r.Data, Metadata: r.Metadata, Position: positionString(r.Position),
		}
	}
	c.Response().Header().Set("ETag", etag(int64(len(records))))
	return c.JSON(http.StatusOK, out)
}

func (s *server) writeResult(c *echo.Context, status int, res ledger.Result) error {
	h := c.Response().Header()
	h.Set("ETag", etag(res.Claim.Version))
	if res.Replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	return c.JSON(status, forCaller(c, claimResponse(res.Claim, res.Position)))
}

// request gathers the actor, correlation and idempotency key of a write.
func (s *server) request(c *echo.Context) (ledger.Request, error) {
	key := c.Request().Header.Get("Idempotency-Key")
	if len(key) > 255 || !printableASCII(key) {
		return ledger.Request{}, badRequest("invalid-idempotency-key", "Idempotency-Key must be 1 to 255 printable ASCII characters")
	}
	return ledger.Request{
		Actor:          actorOf(c),
		CorrelationID:  c.Response().Header().Get(echo.HeaderXRequestID),
		IdempotencyKey: key,
	}, nil
}

func claimID(c *echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil || id == uuid.Nil {
		return uuid.Nil, newProblem(http.StatusNotFound, "not-found", "No such claim", "claim ids are UUIDs")
	}
	return id, nil
}

// etag renders a claim version as a strong entity tag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// parseIfMatch reads the If-Match headers: absent or "*" means no
// expectation; otherwise one entity tag holding a claim version. A header
// that is present but empty is refused, not taken as absent: the client
// meant to send a version, and writing without the check would be the
// lost update If-Match exists to prevent.
func parseIfMatch(values []string) (*int64, error) {
	if len(values) == 0 {
		return nil, nil
	}
	if len(values) > 1 {
		return nil, badRequest("invalid-if-match", "send one If-Match header with one claim version, e.g. \"3\"")
	}
	h := strings.TrimSpace(values[0])
	switch h {
	case "":
		return nil, badRequest("invalid-if-match", "If-Match is empty: send the claim version from ETag, e.g. \"3\", or leave the header out")
	case "*":
		return nil, nil
	}
	tag := strings.TrimPrefix(h, "W/")
	if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
		tag = tag[1 : len(tag)-1]
	}
	v, err := strconv.ParseInt(tag, 10, 64)
	if err != nil || v < 1 {
		return nil, badRequest("invalid-if-match", "If-Match must be one claim version as returned in ETag, e.g. \"3\"")
	}
	return &v, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func joinActions(actions []domain.Action) string {
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}
