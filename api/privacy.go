package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/privacy"
)

// ErasureResponse answers POST /v1/customers/{id}/erase.
type ErasureResponse struct {
	CustomerID string `json:"customer_id"`
	// Claims are the customer's claims; their personal fields now read
	// "[erased]" everywhere.
	Claims []uuid.UUID `json:"claims"`
	// Recorded counts the erasure events this request wrote (0 on a
	// repeated request: erasure is idempotent).
	Recorded int `json:"recorded"`
	// Position of the last erasure event written, for min_position.
	Position string `json:"position,omitempty"`
	// ReadModelsScrubbed is true once the read models applied the erasure
	// and their write-ahead log, which still held the old rows, was
	// truncated; false when they did not catch up in time (the fields are
	// erased regardless: the key is gone; the log is overwritten as it
	// wraps, and a repeated request scrubs it).
	ReadModelsScrubbed bool `json:"read_models_scrubbed"`
}

// registerPrivacy adds the erasure route to the authenticated /v1 group.
func (s *server) registerPrivacy(v1 *echo.Group) {
	v1.POST("/customers/:id/erase", s.eraseCustomer, require(PermErasePersonalData))
}

// eraseCustomer crypto-shreds a customer's personal data (see package
// privacy). The body is optional and, when given, must be an empty object:
// erasure takes no parameters, and a reason would itself risk holding
// personal data in an event that is never erased.
func (s *server) eraseCustomer(c *echo.Context) error {
	id := c.Param("id")
	if !privacy.ValidCustomerID(id) {
		return newProblem(http.StatusNotFound, "customer-not-found", "No such customer", "customer ids are 32 lowercase hex digits, the customer_id of a claim")
	}
	if err := decodeJSON(c, &struct{}{}, true); err != nil {
		return err
	}
	req, err := s.request(c)
	if err != nil {
		return err
	}
	res, err := s.cfg.Ledger.EraseCustomer(c.Request().Context(), id, req)
	if err != nil {
		return err
	}
	out := ErasureResponse{CustomerID: res.CustomerID, Claims: res.Claims, Recorded: res.Recorded}
	if out.Claims == nil {
		out.Claims = []uuid.UUID{}
	}
	if res.Recorded > 0 {
		out.Position = positionString(res.Position)
	}
	out.ReadModelsScrubbed = s.scrubReadModels(c.Request().Context(), res.Position)
	return c.JSON(http.StatusOK, out)
}

// scrubWait bounds how long an erasure waits for the read models to apply
// it before scrubbing their log.
const scrubWait = 10 * time.Second

// scrubReadModels waits for the read models to apply the erasure events up
// to pos, then truncates their write-ahead log (projections.ScrubWAL).
func (s *server) scrubReadModels(ctx context.Context, pos eventstore.Position) bool {
	if s.cfg.Reads == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, scrubWait)
	defer cancel()
	if err := s.cfg.Reads.WaitFor(ctx, pos); err != nil {
		s.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "erasure: the read models did not apply it in time; their log still holds the old rows", slog.Any("error", err))
		return false
	}
	if err := s.cfg.Reads.ScrubWAL(ctx); err != nil {
		s.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "erasure: could not truncate the read models' log", slog.Any("error", err))
		return false
	}
	return true
}
