package projections

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

// BenchmarkAuditTrail measures the audit trail over BenchmarkRebuild's
// store (200,000 claim events): what it keeps per event ("bytes/event",
// the table and its indexes on disk, from SQLite's dbstat) and what its
// pages cost a caller: a page of 100 at the start and in the middle of the
// log, pages filtered by action, by claim, by claim number and by a time
// window (an hour, a minute), and the whole trail read as the CSV export reads it, in pages of
// MaxTrailLimit ("export", events/s). The process's CPU time per page
// ("cpu-us/op") and per exported entry ("cpu-us/event") say more than the
// elapsed time on a machine shared with other work.
//
//	go test -run='^$' -bench=AuditTrail ./projections/
func BenchmarkAuditTrail(b *testing.B) {
	prepareRebuildStore(b)
	store, err := embedded.Open(rebuildStore.path, embedded.Config{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cfg := Config{Dir: b.TempDir(), Logger: quiet, MetricsInterval: time.Hour, only: []string{AuditTrail}}
	r, err := New(store, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if err := r.Rebuild(ctx, AuditTrail); err != nil {
		b.Fatal(err)
	}
	table := auditTrailTable(r.byName[AuditTrail].active.Load().number)
	var rows, bytes int64
	if err := r.db.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&rows); err != nil {
		b.Fatal(err)
	}
	if err := r.db.r.QueryRow(`SELECT sum(pgsize) FROM dbstat WHERE name = ? OR name LIKE ? || '\_%' ESCAPE '\'`, table, table).Scan(&bytes); err != nil {
		b.Fatal(err)
	}

	if sizes, err := r.db.r.Query(`SELECT name, sum(pgsize) FROM dbstat WHERE name = ? OR name LIKE ? || '\_%' ESCAPE '\' GROUP BY name`, table, table); err == nil {
		for sizes.Next() {
			var name string
			var n int64
			if sizes.Scan(&name, &n) == nil {
				b.Logf("%s: %.1f bytes/event", name, float64(n)/float64(rows))
			}
		}
		sizes.Close()
	}

	// The middle of the log: its entry starts the pages that are not the
	// first, and gives the claim and the time window of the filters.
	all := TrailQuery{Limit: 1}
	mid := int(rows / 2)
	var middle TrailEntry
	{
		var c, p int64
		if err := r.db.r.QueryRow(`SELECT commit_pos, prepare_pos FROM `+table+` ORDER BY commit_pos, prepare_pos LIMIT 1 OFFSET ?`, mid-1).Scan(&c, &p); err != nil {
			b.Fatal(err)
		}
		all.Cursor = encodeTrailCursor(positionOf(c, p))
		page, err := r.AuditTrailPage(ctx, all)
		if err != nil || len(page.Items) != 1 {
			b.Fatalf("the middle entry: %d entries, %v", len(page.Items), err)
		}
		middle = page.Items[0]
	}
	// The claim's registration gives its number and the action of the
	// filtered page (one entry in about eight).
	var number, registered string
	{
		page, err := r.AuditTrailPage(ctx, TrailQuery{ClaimID: middle.ClaimID, Limit: 1})
		if err != nil || len(page.Items) != 1 {
			b.Fatalf("the middle claim: %d entries, %v", len(page.Items), err)
		}
		number, registered = page.Items[0].Number, page.Items[0].Action
	}
	pages := []struct {
		name string
		q    TrailQuery
		want int // entries at least
	}{
		{"page-100-first", TrailQuery{Limit: 100}, 100},
		{"page-100-middle", TrailQuery{Limit: 100, Cursor: all.Cursor}, 100},
		{"action-100-middle", TrailQuery{Limit: 100, Cursor: all.Cursor, Actions: []string{registered}}, 100},
		{"claim", TrailQuery{ClaimID: middle.ClaimID}, 2},
		{"number", TrailQuery{Number: number}, 2},
		{"window-100", TrailQuery{Limit: 100, From: middle.OccurredAt, To: middle.OccurredAt.Add(time.Hour)}, 100},
		{"window-minute", TrailQuery{Limit: 100, From: middle.OccurredAt, To: middle.OccurredAt.Add(time.Minute)}, 2},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				page, err := r.AuditTrailPage(ctx, p.q)
				if err != nil || len(page.Items) < p.want || page.Items[0].EventID == uuid.Nil || page.Items[0].Summary == "" {
					b.Fatalf("%d entries, %v", len(page.Items), err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
		})
	}
	b.Run("export", func(b *testing.B) {
		var n int
		cpu := cpuTime()
		for b.Loop() {
			q := TrailQuery{Limit: MaxTrailLimit}
			for {
				page, err := r.AuditTrailPage(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				n += len(page.Items)
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
		}
		if n != int(rows)*b.N {
			b.Fatalf("exported %d entries, want %d", n, int(rows)*b.N)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/float64(n), "cpu-us/event")
		b.ReportMetric(float64(bytes)/float64(rows), "bytes/event")
		b.ReportMetric(0, "ns/op")
	})
}
