package projections

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// trailWorld is a log of interleaved claims with events of other streams
// between them, and the audit trail over it.
func trailWorld(t *testing.T) (*world, *Runner, []TrailEntry) {
	t.Helper()
	w := newWorld(t)
	other := func(n int) {
		for k := range n {
			if _, err := w.store.Append(context.Background(), fmt.Sprintf("other-%d", k), eventstore.Any,
				eventstore.EventData{ID: uuid.New(), Type: "other.happened.v1", Data: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	other(3)
	w.register(0, 9)
	other(5)
	w.register(9, 9)
	r := startRunner(t, w.store, testConfig(t.TempDir()))
	waitFor(t, r, w.head())
	return w, r, expectedTrail(t, w.store)
}

// expectedTrail is every claim event of the log as the trail must show
// it, built from the log without the projection's code.
func expectedTrail(t *testing.T, store eventstore.Store) []TrailEntry {
	t.Helper()
	numbers := map[string]string{}
	var out []TrailEntry
	for _, rec := range allClaimEvents(t, store) {
		ev, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := eventlog.DecodeMetadata(rec.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		if reg, ok := ev.(domain.ClaimRegistered); ok {
			numbers[rec.Stream] = reg.Number
		}
		action := meta.Action
		if action == "" {
			action = audit.ActionOf(rec.Type)
		}
		occurred := meta.OccurredAt
		if occurred.IsZero() {
			occurred = rec.Created
		}
		summary, reason := audit.Describe(ev)
		out = append(out, TrailEntry{
			Position: rec.Position, ClaimID: uuid.MustParse(strings.TrimPrefix(rec.Stream, eventlog.Claims.Prefix())),
			Revision: rec.Revision, EventID: rec.ID, EventType: rec.Type, Action: action, Actor: meta.Actor, Role: meta.Role,
			OccurredAt: occurred.UTC(), RecordedAt: rec.Created.UTC(), Summary: summary, Reason: reason,
		})
	}
	for i := range out {
		out[i].Number = numbers[eventlog.Claims.Stream(out[i].ClaimID)]
	}
	return out
}

// sameTrail compares entries as the API writes them: every field, in JSON.
func sameTrail(t *testing.T, what string, got, want []TrailEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, _ := json.Marshal(got[i])
		x, _ := json.Marshal(want[i])
		if !bytes.Equal(g, x) || got[i].Position != want[i].Position {
			t.Fatalf("%s: entry %d is\n%s at %s, want\n%s at %s", what, i, g, got[i].Position, x, want[i].Position)
		}
	}
}

// readAllPages follows the cursors from q to the end.
func readAllPages(t *testing.T, r *Runner, q TrailQuery) []TrailEntry {
	t.Helper()
	var out []TrailEntry
	for {
		page, err := r.AuditTrailPage(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		if limit := cmp.Or(q.Limit, DefaultTrailLimit); len(page.Items) != limit {
			t.Fatalf("a page of %d entries with a cursor, limit %d", len(page.Items), limit)
		}
		q.Cursor = page.NextCursor
	}
}

func TestAuditTrailShowsEveryEventOfTheLog(t *testing.T) {
	_, r, all := trailWorld(t)
	where := func(keep func(TrailEntry) bool) []TrailEntry {
		var out []TrailEntry
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	some := all[len(all)/2]
	registered := all[0].Action
	for _, tc := range []struct {
		name string
		q    TrailQuery
		want []TrailEntry
	}{
		{"everything, 1 a page", TrailQuery{Limit: 1}, all},
		{"everything, 7 a page", TrailQuery{Limit: 7}, all},
		{"everything, 1000 a page", TrailQuery{Limit: MaxTrailLimit}, all},
		{"one action", TrailQuery{Limit: 3, Actions: []string{registered}}, where(func(e TrailEntry) bool { return e.Action == registered })},
		{"one claim", TrailQuery{Limit: 4, ClaimID: some.ClaimID}, where(func(e TrailEntry) bool { return e.ClaimID == some.ClaimID })},
		{"one claim by number", TrailQuery{Limit: 100, Number: strings.ToLower(some.Number)}, where(func(e TrailEntry) bool { return e.ClaimID == some.ClaimID })},
		{"an unknown number", TrailQuery{Number: "RMA-1999-000001"}, nil},
		{"an actor and role", TrailQuery{Limit: 50, Actor: "desk", Role: "agent"}, all},
		{"another actor", TrailQuery{Actor: "nobody"}, nil},
		{"a time window", TrailQuery{Limit: 5, From: some.OccurredAt, To: some.OccurredAt.Add(20 * time.Second)},
			where(func(e TrailEntry) bool {
				return !e.OccurredAt.Before(some.OccurredAt) && e.OccurredAt.Before(some.OccurredAt.Add(20*time.Second))
			})},
		{"from a time on", TrailQuery{Limit: 9, From: some.OccurredAt}, where(func(e TrailEntry) bool { return !e.OccurredAt.Before(some.OccurredAt) })},
		{"up to a time", TrailQuery{Limit: 9, To: some.OccurredAt}, where(func(e TrailEntry) bool { return e.OccurredAt.Before(some.OccurredAt) })},
		{"a time window of one claim", TrailQuery{Limit: 2, ClaimID: some.ClaimID, From: all[0].OccurredAt, To: some.OccurredAt.Add(time.Hour)},
			where(func(e TrailEntry) bool {
				return e.ClaimID == some.ClaimID && !e.OccurredAt.Before(all[0].OccurredAt) && e.OccurredAt.Before(some.OccurredAt.Add(time.Hour))
			})},
	} {
		// Numbers come from the cache of a page's claims: roomy, and so
		// small that every page empties it.
		// A time window is read from its index when narrow, by walking
		// the trail when wide: a bound of 0 makes every window wide.
		for _, bound := range []int{0, 3} {
			numbers := &r.byName[AuditTrail].active.Load().tables.(*trailTables).numbers
			numbers.mu.Lock()
			numbers.max, numbers.m = bound, nil
			numbers.mu.Unlock()
			defer func(was int) { narrowWindow = was }(narrowWindow)
			narrowWindow = bound * 1000
			t.Run(fmt.Sprintf("%s, %d numbers kept, windows of %d narrow", tc.name, bound, narrowWindow), func(t *testing.T) {
				sameTrail(t, tc.name, readAllPages(t, r, tc.q), tc.want)
			})
		}
	}
}

// TestAuditTrailReadsTheLogEitherWay reads the same entries both ways a
// page can be read: from $all after the row before the first, and from
// the claims' streams at their revisions.
func TestAuditTrailReadsTheLogEitherWay(t *testing.T) {
	_, r, all := trailWorld(t)
	g, release := r.byName[AuditTrail].acquire()
	defer release()
	tables := g.tables.(*trailTables)
	indexOnly := func(from []TrailEntry) []TrailEntry {
		out := make([]TrailEntry, len(from))
		for i, e := range from {
			out[i] = TrailEntry{Position: e.Position, ClaimID: e.ClaimID, Number: e.Number, Revision: e.Revision,
				Action: e.Action, Actor: e.Actor, Role: e.Role, OccurredAt: e.OccurredAt}
		}
		return out
	}
	for _, span := range [][2]int{{0, len(all)}, {0, 1}, {1, 40}, {len(all) - 10, len(all)}} {
		want := all[span[0]:span[1]]
		dense, _, n, err := tables.trailSpan(context.Background(), want)
		if err != nil || !dense || n != len(want) {
			t.Fatalf("entries %v: dense %v over %d rows, %v", span, dense, n, err)
		}
		got := indexOnly(want)
		if err := readTrailEvents(context.Background(), tables, refusing{tables.store, "stream"}, got); err != nil {
			t.Fatal(err)
		}
		sameTrail(t, fmt.Sprintf("from $all, entries %v", span), got, want)

		got = indexOnly(want)
		if err := readTrailStreams(context.Background(), tables.store, got, make([]bool, len(got))); err != nil {
			t.Fatal(err)
		}
		sameTrail(t, fmt.Sprintf("from the streams, entries %v", span), got, want)
	}
	// Entries spread wider than denseSpan are read from the streams.
	var spread []TrailEntry
	for i := 0; i < len(all); i += 8 {
		spread = append(spread, all[i])
	}
	if dense, _, _, err := tables.trailSpan(context.Background(), spread[:2]); err != nil || !dense {
		t.Fatalf("two entries 8 apart: dense %v, %v", dense, err)
	}
	if dense, _, _, err := tables.trailSpan(context.Background(), spread); err != nil || dense {
		t.Fatalf("%d entries over %d: dense %v, %v", len(spread), len(all), dense, err)
	}
	got := indexOnly(spread)
	if err := readTrailEvents(context.Background(), tables, refusing{tables.store, "all"}, got); err != nil {
		t.Fatal(err)
	}
	sameTrail(t, "spread", got, spread)
	// A read that fails fails the page, whichever of the parallel reads it was.
	if err := readTrailEvents(context.Background(), tables, refusing{tables.store, "stream"}, indexOnly(spread)); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a refused stream read gave %v", err)
	}
}

// refusing is a store that refuses one kind of read ("stream" or "all"),
// to prove a page was read the other way alone.
type refusing struct {
	eventstore.Store
	read string
}

func (s refusing) ReadStream(ctx context.Context, stream string, d eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if s.read == "stream" {
		return nil, fmt.Errorf("read %s refused", stream)
	}
	return s.Store.ReadStream(ctx, stream, d, from, max)
}

func (s refusing) ReadAll(ctx context.Context, after eventstore.Position, max int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if s.read == "all" {
		return nil, fmt.Errorf("read $all after %s refused", after)
	}
	return s.Store.ReadAll(ctx, after, max, f)
}

// TestAuditTrailKeepsNoPersonalData: the summaries that quote the customer
// are written when a page is read, so the table never holds them.
func TestAuditTrailKeepsNoPersonalData(t *testing.T) {
	w, r, all := trailWorld(t)
	if !strings.Contains(all[0].Summary, "Customer") {
		t.Fatalf("the registration's summary %q names no customer: the test proves nothing", all[0].Summary)
	}
	table := auditTrailTable(r.byName[AuditTrail].active.Load().number)
	rows, err := r.db.r.Query(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		n++
		values := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range values {
			ptrs[i] = &values[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := fmt.Sprint(values...)
		if strings.Contains(row, "Customer") || strings.Contains(row, "+359") || strings.Contains(row, "Example.bg") {
			t.Fatalf("a trail row holds personal data: %v", values)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(all) || n != len(allClaimEvents(t, w.store)) {
		t.Fatalf("%d rows for %d claim events", n, len(all))
	}
}
