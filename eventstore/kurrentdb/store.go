// Package kurrentdb is the event store backed by a KurrentDB server or
// cluster (formerly EventStoreDB), through the official Go client.
//
// The store interface has KurrentDB's semantics, so most methods are one
// client call: Append is AppendToStream, ReadStream is ReadStream,
// SubscribeAll is SubscribeToAll with a server-side filter. What this package
// adds is the translation of revisions, positions and errors, a filter the
// server cannot express alone, and a subscription that survives a dropped
// connection without a gap or a duplicate.
//
// Open does not wait for the server: the store connects in the background
// and calls wait for that first connection (as long as their context
// allows). When the connection is lost, one background prober reconnects
// with backoff; meanwhile calls fail at once with eventstore.ErrUnavailable,
// so an outage answers requests quickly instead of piling them up. Ping
// tells whether the server answers, e.g. for a readiness probe.
//
// Two flaws of client v1.4.1 shape this. A failed node discovery shuts the
// client down for good, so the prober replaces it. And a call that queues
// behind a discovery ignores its context (and, if the discovery fails,
// never returns), so every call runs in its own goroutine that the caller
// can leave (see call), and only the prober calls while discovery may run.
package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	kdb "github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/rmaledger/rmaledger/eventstore"
)

// Store is the KurrentDB event store. It is safe for concurrent use.
type Store struct {
	cfg          Config
	kconf        kdb.Configuration // parsed connection string, for replacement clients
	target       string            // redacted connection string, for logs
	probeTimeout time.Duration     // longest a discovery can take; see discoveryBound

	mu      sync.Mutex // guards the fields below
	ref     *clientRef
	health  *health
	probing bool
	closed  bool

	ctx  context.Context // cancelled by Close; ends subscriptions and probing
	stop context.CancelFunc
	subs sync.WaitGroup // subscription goroutines
	bg   sync.WaitGroup // the prober

	closeOnce sync.Once
	closeErr  error
}

// clientRef is one client and the calls running on it, so Close can wait for
// them before closing it.
type clientRef struct {
	client *kdb.Client
	calls  sync.WaitGroup
}

// health is what the store believes of its connection. Each change replaces
// it and closes the old one's changed channel, waking calls that wait.
type health struct {
	connected bool
	err       error // why the last attempt to connect failed; nil while one runs
	changed   chan struct{}
}

var _ eventstore.Store = (*Store)(nil)

// Open parses the connection string (kurrentdb://, kurrentdb+discover://,
// esdb:// or esdb+discover://, with the client's settings such as
// ?tls=false or ?nodePreference=leader) and returns a store that connects in
// the background. It fails only on a malformed string or Config; ctx is
// checked but nothing here waits for the server (see the package comment).
func Open(ctx context.Context, connectionString string, opts ...Option) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kconf, err := parseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	kconf.Logger = clientLogger(cfg.Logger)

	s := &Store{
		cfg:          cfg,
		kconf:        *kconf,
		target:       redact(connectionString),
		probeTimeout: discoveryBound(kconf) + cfg.ConnectTimeout,
		health:       &health{changed: make(chan struct{})},
	}
	client, err := s.newClient()
	if err != nil {
		return nil, err
	}
	s.ref = &clientRef{client: client}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.mu.Lock()
	s.startProbeLocked()
	s.mu.Unlock()
	cfg.Logger.Info("kurrentdb event store opened", "target", s.target)
	return s, nil
}

func (s *Store) newClient() (*kdb.Client, error) {
	kconf := s.kconf // the client keeps the pointer; give each its own copy
	client, err := kdb.NewClient(&kconf)
	if err != nil {
		return nil, fmt.Errorf("kurrentdb: %w", err)
	}
	return client, nil
}

// discoveryBound is the longest the client's node discovery can take with
// these settings: every attempt may wait out the gossip timeout twice per
// candidate (gossip, then server features) before its pause.
func discoveryBound(c *kdb.Configuration) time.Duration {
	candidates := max(1, len(c.GossipSeeds))
	perAttempt := time.Duration(2*candidates*c.GossipTimeout)*time.Second +
		time.Duration(c.DiscoveryInterval)*time.Millisecond
	return time.Duration(max(1, c.MaxDiscoverAttempts)) * perAttempt
}

// acquire registers a call on the current client once the store is
// connected. While the first attempt to connect runs it waits (as long as
// ctx allows); once an attempt has failed it answers ErrUnavailable at once,
// so an outage fails requests fast instead of piling them up.
func (s *Store) acquire(ctx context.Context) (*clientRef, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, eventstore.ErrClosed
		}
		h, ref := s.health, s.ref
		if h.connected {
			ref.calls.Add(1)
			s.mu.Unlock()
			return ref, nil
		}
		s.startProbeLocked()
		s.mu.Unlock()
		if h.err != nil {
			return nil, fmt.Errorf("%w: kurrentdb: %s not reachable: %w", eventstore.ErrUnavailable, s.target, h.err)
		}
		select {
		case <-h.changed:
		case <-s.ctx.Done():
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: kurrentdb: still connecting to %s: %w", eventstore.ErrUnavailable, s.target, ctx.Err())
		}
	}
}

// call runs fn on the current client and returns its error, or the context's
// when ctx ends first. fn runs in its own goroutine because a client call
// can block without regard to its context (behind a node discovery), and a
// caller must be able to give up. If fn is abandoned it finishes on its own;
// it must not write anything the caller reads after call returns.
func (s *Store) call(ctx context.Context, fn func(*kdb.Client) error) error {
	ref, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer ref.calls.Done()
		done <- fn(ref.client)
	}()
	select {
	case err := <-done:
		if code, _ := clientError(err); code == kdb.ErrorUnavailable || code == kdb.ErrorCodeConnectionClosed {
			s.disconnected(ref)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// disconnected records that ref's client lost its node. The client then
// rediscovers on its next call; the prober makes that call, alone, so that
// requests do not queue behind a discovery that may fail.
func (s *Store) disconnected(ref *clientRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ref != ref || !s.health.connected {
		return
	}
	s.setHealthLocked(false, nil)
	s.startProbeLocked()
	s.cfg.Logger.Warn("kurrentdb: lost the connection; reconnecting", "target", s.target)
}

func (s *Store) setHealthLocked(connected bool, err error) {
	close(s.health.changed)
	s.health = &health{connected: connected, err: err, changed: make(chan struct{})}
}

func (s *Store) startProbeLocked() {
	if s.probing || s.closed {
		return
	}
	s.probing = true
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.probe()
	}()
}

// probe connects the client, retrying with backoff until it succeeds or the
// store closes. The client's GetServerVersion is its way to connect: it runs
// node discovery when the client has no connection. It fails only when
// discovery has failed, and then the client has shut itself down for good,
// so each failure brings a new client. The old one is not closed: its Close
// closes a channel that a call stuck behind the failed discovery may still
// send on, which would panic; it holds nothing else worth freeing.
func (s *Store) probe() {
	wait := s.cfg.RetryMinBackoff
	for {
		s.mu.Lock()
		if s.closed {
			s.probing = false
			s.mu.Unlock()
			return
		}
		ref := s.ref
		ref.calls.Add(1)
		s.mu.Unlock()

		version, err := s.probeOnce(ref)

		s.mu.Lock()
		if s.closed {
			s.probing = false
			s.mu.Unlock()
			return
		}
		if err == nil {
			s.setHealthLocked(true, nil)
			s.probing = false
			s.mu.Unlock()
			s.cfg.Logger.Info("kurrentdb: connected", "target", s.target, "server", version)
			return
		}
		s.setHealthLocked(false, err)
		if client, nerr := s.newClient(); nerr == nil {
			s.ref = &clientRef{client: client}
		}
		s.mu.Unlock()
		s.cfg.Logger.Warn("kurrentdb: cannot reach the server; retrying", "target", s.target, "retry_in", wait, "err", err)
		if !sleep(s.ctx, wait) {
			continue // closed: the next turn sees it
		}
		wait = backoff(wait, s.cfg.RetryMinBackoff, s.cfg.RetryMaxBackoff)
	}
}

// probeOnce runs one connection attempt, bounded by probeTimeout: an attempt
// queued behind a discovery that fails never returns.
func (s *Store) probeOnce(ref *clientRef) (string, error) {
	type result struct {
		version *kdb.ServerVersion
		err     error
	}
	done := make(chan result, 1)
	go func() {
		defer ref.calls.Done()
		v, err := ref.client.GetServerVersion()
		done <- result{v, err}
	}()
	timer := time.NewTimer(s.probeTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return "", r.err
		}
		if r.version == nil || *r.version == (kdb.ServerVersion{}) {
			return "unknown version", nil
		}
		return fmt.Sprintf("%d.%d.%d", r.version.Major, r.version.Minor, r.version.Patch), nil
	case <-timer.C:
		return "", fmt.Errorf("no node found within %s", s.probeTimeout)
	case <-s.ctx.Done():
		return "", eventstore.ErrClosed
	}
}

// mapError maps an error of a call: the caller's own cancellation stays as
// it is, a closed client on a closed store is ErrClosed, the rest is
// classified.
func (s *Store) mapError(ctx context.Context, err error, o op) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, eventstore.ErrClosed) || errors.Is(err, eventstore.ErrUnavailable) {
		return err // the store's own verdict (acquire), already final
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	code, _ := clientError(err)
	if code == kdb.ErrorCodeConnectionClosed && s.isClosed() {
		return eventstore.ErrClosed
	}
	return classify(code, err, o)
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Ping reads the last event of $all, which needs a connection to a node
// that serves reads. It is meant for readiness probes and for waiting for
// the server at startup.
func (s *Store) Ping(ctx context.Context) error {
	err := s.call(ctx, func(c *kdb.Client) error {
		rs, err := c.ReadAll(ctx, kdb.ReadAllOptions{Direction: kdb.Backwards, From: kdb.End{}}, 1)
		if err != nil {
			return err
		}
		defer rs.Close()
		_, err = rs.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	})
	return s.mapError(ctx, err, opRead)
}

// Append is AppendToStream with the expectation as its StreamState. The
// server deduplicates by event ID, so a retried append whose events already
// stand at the expected place succeeds without writing.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := validateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	data := make([]kdb.EventData, len(events))
	for i, e := range events {
		data[i] = eventData(e)
	}
	var result eventstore.AppendResult
	err := s.call(ctx, func(c *kdb.Client) error {
		wr, err := c.AppendToStream(ctx, stream, kdb.AppendToStreamOptions{StreamState: streamState(expected)}, data...)
		if err == nil {
			result = appendResult(wr)
		}
		return err
	})
	if err == nil {
		return result, nil
	}
	if code, cause := clientError(err); ctx.Err() == nil {
		if w := wrongExpected(code, cause, stream, expected); w != nil {
			return eventstore.AppendResult{}, w
		}
	}
	return eventstore.AppendResult{}, s.mapError(ctx, err, opAppend)
}

// validateAppend refuses what the server would reject less clearly, or
// accept wrongly: the client replaces a nil event ID with a random one,
// which would defeat idempotency.
func validateAppend(stream string, events []eventstore.EventData) error {
	if stream == "" {
		return fmt.Errorf("%w: empty stream name", eventstore.ErrInvalidAppend)
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: no events for stream %q", eventstore.ErrInvalidAppend, stream)
	}
	for i, e := range events {
		if e.ID == [16]byte{} {
			return fmt.Errorf("%w: event %d for stream %q has a nil ID", eventstore.ErrInvalidAppend, i, stream)
		}
		if e.Type == "" {
			return fmt.Errorf("%w: event %d for stream %q has an empty type", eventstore.ErrInvalidAppend, i, stream)
		}
	}
	return nil
}

// ReadStream is the client's ReadStream. A missing (or deleted) stream gives
// ErrStreamNotFound. Events read from a stream have the zero Position: the
// server does not report $all positions on stream reads.
func (s *Store) ReadStream(ctx context.Context, stream string, direction eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	opts := kdb.ReadStreamOptions{From: streamFrom(from)}
	switch direction {
	case eventstore.Forwards:
		opts.Direction = kdb.Forwards
	case eventstore.Backwards:
		opts.Direction = kdb.Backwards
	default:
		return nil, fmt.Errorf("kurrentdb: unknown direction %d", direction)
	}
	count := uint64(math.MaxInt64) // what the server takes as "all"; it reads the count as a signed number
	if max > 0 {
		count = uint64(max)
	}
	var events []eventstore.RecordedEvent
	err := s.call(ctx, func(c *kdb.Client) error {
		rs, err := c.ReadStream(ctx, stream, opts, count)
		if err != nil {
			return err
		}
		defer rs.Close()
		var out []eventstore.RecordedEvent
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				events = out
				return nil
			}
			if err != nil {
				return err
			}
			if rec := ev.OriginalEvent(); rec != nil {
				out = append(out, recordedEvent(rec))
			}
		}
	})
	if err != nil {
		return nil, s.mapError(ctx, err, opRead)
	}
	return events, nil
}

// ReadAll reads $all forwards after a position. The client's ReadAll takes
// no filter (only subscriptions have server-side filtering), so the filter
// is applied here, page by page, until max events are found or $all ends.
// Reading from a position includes the event at it, so each page re-reads
// the event it starts at and drops it.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, max int, filter eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if max <= 0 {
		max = s.cfg.ReadPageSize
	}
	page := min(s.cfg.ReadPageSize, max+1) // +1: the event at the start position comes back
	var events []eventstore.RecordedEvent
	err := s.call(ctx, func(c *kdb.Client) error {
		var out []eventstore.RecordedEvent
		cursor := newCursor(after)
		for {
			n, err := readAllPage(ctx, c, cursor, page, func(rec *kdb.RecordedEvent) bool {
				if filter.Selects(rec.StreamID, rec.EventType) {
					out = append(out, recordedEvent(rec))
				}
				return len(out) < max
			})
			if err != nil {
				return err
			}
			if len(out) >= max || n < page {
				events = out
				return nil
			}
		}
	})
	if err != nil {
		return nil, s.mapError(ctx, err, opRead)
	}
	return events, nil
}

// readAllPage reads up to page events of $all from the cursor, hands every
// event after the cursor to yield (advancing the cursor) until yield returns
// false, and returns how many events the server sent.
func readAllPage(ctx context.Context, c *kdb.Client, cur *cursor, page int, yield func(*kdb.RecordedEvent) bool) (int, error) {
	rs, err := c.ReadAll(ctx, kdb.ReadAllOptions{Direction: kdb.Forwards, From: cur.from()}, uint64(page))
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	n := 0
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		rec := ev.OriginalEvent()
		if rec == nil || !cur.advance(eventPosition(rec.Position)) {
			continue
		}
		if !yield(rec) {
			return page, nil // the caller has enough; more may follow
		}
	}
}

// Close ends subscriptions, waits (up to Config.CloseTimeout) for calls under
// way and closes the client. Calls made afterwards fail with ErrClosed.
// Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		ref := s.ref
		s.mu.Unlock()

		s.stop()
		s.subs.Wait()
		s.bg.Wait()
		if !waitTimeout(&ref.calls, s.cfg.CloseTimeout) {
			// Closing now could panic a call stuck inside the client (see
			// probe); leaving the client to the process exit is safer.
			s.cfg.Logger.Warn("kurrentdb: calls still running at close; client left open", "timeout", s.cfg.CloseTimeout)
			return
		}
		s.closeErr = ref.client.Close()
		s.cfg.Logger.Info("kurrentdb event store closed", "target", s.target)
	})
	return s.closeErr
}

// waitTimeout waits for wg and reports whether it finished within d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}
