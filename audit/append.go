package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/rmaledger/rmaledger/eventstore"
)

// appendAttempts bounds AppendSealed's tries when other writers keep
// appending to the stream in between.
const appendAttempts = 5

// ErrStreamBusy means AppendSealed found the stream changed under it on
// every attempt.
var ErrStreamBusy = errors.New("audit: the stream kept changing; try again")

// AppendSealed appends events after a stream's last event, sealed into its
// hash chain, for the streams that are not claims (links, preferences,
// subscriptions). Another writer appending in between makes it read the
// new last event and try again. The events' Metadata is the unsealed
// metadata (it is sealed anew on each attempt); their IDs make a retried
// append idempotent.
func AppendSealed(ctx context.Context, store eventstore.Store, stream string, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	for range appendAttempts {
		last, err := store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
		var prev *eventstore.RecordedEvent
		expected := eventstore.NoStream
		switch {
		case errors.Is(err, eventstore.ErrStreamNotFound):
		case err != nil:
			return eventstore.AppendResult{}, fmt.Errorf("audit: read %s: %w", stream, err)
		case len(last) == 1:
			prev, expected = &last[0], eventstore.Exact(last[0].Revision)
		}
		sealed := make([]eventstore.EventData, len(events))
		for i, e := range events {
			e.Metadata = bytes.Clone(e.Metadata)
			sealed[i] = e
		}
		if err := SealEvents(stream, prev, sealed); err != nil {
			return eventstore.AppendResult{}, err
		}
		res, err := store.Append(ctx, stream, expected, sealed...)
		if errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			continue
		}
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("audit: append to %s: %w", stream, err)
		}
		return res, nil
	}
	return eventstore.AppendResult{}, fmt.Errorf("%w: %s", ErrStreamBusy, stream)
}
