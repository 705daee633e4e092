package eventlog

import (
	"encoding/json"
	"fmt"
	"time"
)

// Metadata is stored as JSON with every event the ledger writes. The
// event's own ID is the store's event ID. Fields added later must mean "as
// before" when absent: events written before them lack them.
type Metadata struct {
	// CorrelationID ties together every event caused by one request chain.
	CorrelationID string `json:"correlation_id"`
	// CausationID is the ID of the message (request or event) that caused this event.
	CausationID string `json:"causation_id,omitempty"`
	// Actor is the name of the API key (never the key) or process that acted.
	Actor string `json:"actor"`
	// Role is the actor's role when it acted.
	Role string `json:"role"`
	// Organisation is the partner organisation the actor acted for; absent for the company's
	// staff and processes, and on every event written before partners existed.
	Organisation string `json:"organisation,omitempty"`
	// Action is the command that produced the event (domain.Action), so
	// that the audit trail says what was done, not only what resulted.
	Action string `json:"action,omitempty"`
	// OccurredAt is the decision time passed to domain.Decide.
	OccurredAt time.Time `json:"occurred_at"`
	// PolicyVersion is the version of the policy that decided the event.
	PolicyVersion string `json:"policy_version"`
	// IdempotencyKey is the client's Idempotency-Key, when given.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// RequestHash fingerprints the command, so a key reused for a different
	// request is refused instead of answered with another request's result.
	RequestHash string `json:"request_hash,omitempty"`
	// ContentHash and PrevHash chain the event to its stream (see
	// docs/audit.md). They are never set when metadata is written: sealing
	// appends them to the encoded metadata as its last members, and they
	// are read back here for display.
	ContentHash string `json:"content_hash,omitempty"`
	PrevHash    string `json:"prev_hash,omitempty"`
}

// DecodeMetadata parses stored metadata; empty metadata is the zero value.
func DecodeMetadata(data []byte) (Metadata, error) {
	var m Metadata
	if len(data) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("eventlog: decode metadata: %w", err)
	}
	return m, nil
}

// Encode is the stored form of the metadata, which DecodeMetadata reads.
func (m Metadata) Encode() ([]byte, error) { return json.Marshal(m) }
