package kurrentdb

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	kdb "github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rmaledger/rmaledger/eventstore"
)

// This file holds the translations between the store's vocabulary and the
// client's. They are pure functions so they can be tested without a server.

// streamState maps an expected revision onto the client's StreamState.
func streamState(e eventstore.ExpectedRevision) kdb.StreamState {
	if rev, ok := e.Revision(); ok {
		return kdb.Revision(rev)
	}
	switch {
	case e.IsNoStream():
		return kdb.NoStream{}
	case e.IsStreamExists():
		return kdb.StreamExists{}
	default:
		return kdb.Any{}
	}
}

// streamFrom maps a start revision of ReadStream; End means the stream's
// last event.
func streamFrom(from uint64) kdb.StreamPosition {
	if from == eventstore.End {
		return kdb.End{}
	}
	return kdb.Revision(from)
}

// allFrom maps a position of $all onto the client's. Start is the client's
// Start rather than Position{0, 0}: a read or subscription from an explicit
// position excludes the event there, and we must not lose an event that
// might sit at zero.
func allFrom(p eventstore.Position) kdb.AllPosition {
	if p == eventstore.Start {
		return kdb.Start{}
	}
	return kdb.Position{Commit: p.Commit, Prepare: p.Prepare}
}

// noPosition is what the server reports for an event read from a stream:
// its index knows revisions, not $all positions.
const noPosition = math.MaxUint64

// eventPosition maps a recorded event's position. Events read from a stream
// carry none; they get the zero Position rather than a sentinel that would
// compare after every real position.
func eventPosition(p kdb.Position) eventstore.Position {
	if p.Commit == noPosition {
		return eventstore.Position{}
	}
	return eventstore.Position{Commit: p.Commit, Prepare: p.Prepare}
}

// appendResult maps a write result. The result's CommitPosition is the log
// position of the last event written; its PreparePosition is where the
// write began (the first event). KurrentDB commits every event of a gRPC
// append implicitly, and such an event's $all position has commit ==
// prepare == its own log position, so the last event is at (Commit, Commit).
// A write result without a position (some servers answer an idempotent
// retry so) gives the zero Position.
func appendResult(r *kdb.WriteResult) eventstore.AppendResult {
	res := eventstore.AppendResult{NextExpectedRevision: r.NextExpectedVersion}
	if r.CommitPosition != 0 {
		res.Position = eventstore.Position{Commit: r.CommitPosition, Prepare: r.CommitPosition}
	}
	return res
}

// eventData maps an event to append. Data is JSON by the store's contract;
// saying so lets KurrentDB's UI and projections read it.
func eventData(e eventstore.EventData) kdb.EventData {
	return kdb.EventData{
		EventID:     e.ID,
		EventType:   e.Type,
		ContentType: kdb.ContentTypeJson,
		Data:        e.Data,
		Metadata:    e.Metadata,
	}
}

// recordedEvent maps an event read or received from the server.
func recordedEvent(e *kdb.RecordedEvent) eventstore.RecordedEvent {
	return eventstore.RecordedEvent{
		ID:       e.EventID,
		Stream:   e.StreamID,
		Type:     e.EventType,
		Revision: e.EventNumber,
		Position: eventPosition(e.Position),
		Data:     e.Data,
		Metadata: e.UserMetadata,
		Created:  e.CreatedDate.UTC(),
	}
}

// serverFilter picks the one filter the server can apply to $all: it
// filters on either stream names or event types, not both. Stream prefixes
// win when given, since they select this service's streams most narrowly;
// otherwise type prefixes; otherwise the client's filter that drops system
// event types. System streams and types are never among the prefixes a
// caller means, and matches (applied to every event on our side as well)
// removes whatever the server filter lets through.
func serverFilter(f eventstore.Filter) *kdb.SubscriptionFilter {
	switch {
	case len(f.StreamPrefixes) > 0:
		return &kdb.SubscriptionFilter{Type: kdb.StreamFilterType, Prefixes: f.StreamPrefixes}
	case len(f.TypePrefixes) > 0:
		return &kdb.SubscriptionFilter{Type: kdb.EventFilterType, Prefixes: f.TypePrefixes}
	default:
		return kdb.ExcludeSystemEventsFilter()
	}
}

// clientError splits an error from the client into its code and cause. The
// client's *Error cannot be built outside its package, so the mappings below
// take the parts, which tests can supply.
func clientError(err error) (kdb.ErrorCode, error) {
	var kerr *kdb.Error
	if errors.As(err, &kerr) {
		return kerr.Code(), kerr.Err()
	}
	return kdb.ErrorCodeUnknown, err
}

// wrongExpected builds the store's error for a failed expectation, or
// returns nil when the code is not one. The v1 append reports the stream's
// actual revision only inside its message ("expecting '…' but got '…'");
// newer servers may send structured details instead.
func wrongExpected(code kdb.ErrorCode, cause error, stream string, expected eventstore.ExpectedRevision) *eventstore.WrongExpectedRevisionError {
	w := &eventstore.WrongExpectedRevisionError{Stream: stream, Expected: expected}
	switch code {
	case kdb.ErrorCodeWrongExpectedVersion:
		if cause != nil {
			w.Actual, w.ActualExists = parseActual(cause.Error())
		}
	case kdb.ErrorCodeStreamRevisionConflict:
		var conflict *kdb.StreamRevisionConflictError
		if errors.As(cause, &conflict) {
			if rev, ok := conflict.ActualRevision.(kdb.StreamRevision); ok {
				w.Actual, w.ActualExists = rev.Value, true
			}
		}
	default:
		return nil
	}
	return w
}

// parseActual reads the actual revision out of the client's message
// "wrong expected version: expecting 'X' but got 'Y'", where Y is a revision
// or no_stream. Anything else reads as no stream.
func parseActual(msg string) (revision uint64, exists bool) {
	const marker = "but got '"
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return 0, false
	}
	actual, _, _ := strings.Cut(msg[i+len(marker):], "'")
	rev, err := strconv.ParseUint(actual, 10, 64)
	if err != nil {
		return 0, false
	}
	return rev, true
}

// op names the kind of call an error came from; the same server answer
// means different things to an append and to a read.
type op uint8

const (
	opRead op = iota
	opAppend
	opSubscribe
)

// classify maps a client error (other than a failed expectation) onto the
// store's sentinels. Whatever may pass with time (no leader, no connection,
// a server deadline, a dropped stream) is ErrUnavailable; what will not
// (credentials, permissions, a malformed append) is not, so a subscription
// gives up on it and an API answers with the right status.
func classify(code kdb.ErrorCode, err error, o op) error {
	switch code {
	case kdb.ErrorCodeResourceNotFound, kdb.ErrorCodeStreamDeleted, kdb.ErrorCodeStreamTombstoned:
		if o == opRead {
			return fmt.Errorf("%w: %w", eventstore.ErrStreamNotFound, err)
		}
		return fmt.Errorf("kurrentdb: %w", err)
	case kdb.ErrorCodeAppendRecordSizeExceeded, kdb.ErrorCodeAppendTransactionSizeExceeded:
		return fmt.Errorf("%w: %w", eventstore.ErrInvalidAppend, err)
	case kdb.ErrorCodeUnauthenticated, kdb.ErrorCodeAccessDenied, kdb.ErrorCodeUnsupportedFeature,
		kdb.ErrorCodeParsing, kdb.ErrorCodeInternalClient:
		return fmt.Errorf("kurrentdb: %w", err)
	case kdb.ErrorCodeConnectionClosed, kdb.ErrorUnavailable, kdb.ErrorCodeDeadlineExceeded,
		kdb.ErrorCodeNotLeader, kdb.ErrorAborted, kdb.ErrorCodeInternalServer:
		return fmt.Errorf("%w: kurrentdb: %w", eventstore.ErrUnavailable, err)
	}
	// An unclassified error: look at the gRPC status beneath it. The server
	// refuses an oversize append with InvalidArgument (its maximum append
	// size) or ResourceExhausted (its maximum message size).
	switch status.Code(err) {
	case codes.InvalidArgument, codes.ResourceExhausted, codes.OutOfRange:
		if o == opAppend {
			return fmt.Errorf("%w: %w", eventstore.ErrInvalidAppend, err)
		}
		return fmt.Errorf("kurrentdb: %w", err)
	case codes.Unauthenticated, codes.PermissionDenied, codes.Unimplemented, codes.FailedPrecondition:
		return fmt.Errorf("kurrentdb: %w", err)
	}
	// Transport failures, resets, and the client's own untyped errors
	// ("failed to initiate subscription").
	return fmt.Errorf("%w: kurrentdb: %w", eventstore.ErrUnavailable, err)
}
