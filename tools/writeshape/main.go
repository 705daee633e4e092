// Command writeshape measures what the read models' writes cost per event
// on two storage engines, with nothing else running: SQLite as the
// projections write it (WAL, synchronous=NORMAL, a 16 MiB page cache,
// secure_delete, the same secondary indexes; tables with fewer columns but
// rows of about the same size) and Pebble, an LSM
// key-value store, given the same rows and index entries as keys, committed
// without a sync as SQLite's NORMAL does. Pebble's flushes and compactions
// run after its commits return, so it reports the CPU with and without
// them. It is the measurement behind the "What would close the gap" and
// "What an LSM store would and would not buy" sections of
// docs/performance.md, kept as a module of its own so that the service does
// not depend on Pebble.
//
// Per event: the claim's row (1.4 KB of state) with its status and
// updated-at index entries moved, the status row, the SLA clocks row (and a
// timer row with two index entries every other event), an audit trail row
// with five index entries (and the number on a claim's first row), and per
// transaction the five checkpoints. 64 claims are open at a time, twelve
// events each, as in BenchmarkProjectionLag.
//
//	go run . -engine sqlite -batch 5
//	go run . -engine pebble -batch 5
//	go run . -engine sqlite -batch 5 -skip trail_   # without the trail's indexes
package main

import (
	"database/sql"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	_ "modernc.org/sqlite"
)

// claim is an open claim of the workload.
type claim struct {
	id, number, phone string
	status, actor     int
	updated           int64
	rev               int
}

var statuses = []string{"registered", "received", "diagnosed", "approved", "repairing", "repaired", "shipped", "closed"}
var actions = []string{"register", "receive", "diagnose", "approve", "start-repair", "finish-repair", "ship", "close", "add-note"}

// event is one event of the workload: which claim, and what it changed.
type event struct {
	c        *claim
	oldSt    int
	oldUpd   int64
	pos      int64
	action   int
	newClaim bool
}

// workload is 64 open claims at a time, twelve events each.
type workload struct {
	active []*claim
	n      int
	pos    int64
	rng    *rand.Rand
}

func (w *workload) next() event {
	w.pos++
	i := w.rng.IntN(len(w.active))
	c := w.active[i]
	if c == nil || c.rev >= 12 {
		w.n++
		c = &claim{id: fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", w.rng.Uint32(), w.rng.IntN(65536), w.rng.IntN(4096), w.rng.IntN(4096), w.rng.Uint64()&0xffffffffffff),
			number: fmt.Sprintf("RMA-2026-%07d", w.n), phone: fmt.Sprintf("+3598%08d", w.rng.IntN(1e8)), actor: w.rng.IntN(40)}
		w.active[i] = c
		c.updated = w.pos
		return event{c: c, pos: w.pos, action: 0, newClaim: true}
	}
	ev := event{c: c, oldSt: c.status, oldUpd: c.updated, pos: w.pos, action: 1 + w.rng.IntN(len(actions)-1)}
	c.rev++
	c.status = min(c.rev*len(statuses)/12, len(statuses)-1)
	c.updated = w.pos
	return ev
}

// Row sizes: a claim's state, a status view, an audit trail row, a clock.
var state = make([]byte, 1400)
var view = make([]byte, 300)
var trailRow = make([]byte, 400)
var clock = make([]byte, 200)

// be encodes v so that keys order as the numbers do.
func be(v int64) []byte { b := make([]byte, 8); binary.BigEndian.PutUint64(b, uint64(v)); return b }

// key joins parts into a Pebble key.
func key(parts ...[]byte) []byte {
	var k []byte
	for _, p := range parts {
		k = append(k, p...)
		k = append(k, 0)
	}
	return k
}

// sink writes a transaction's events.
type sink interface {
	write(evs []event) error
	// settle waits for the background work the writes left behind: an
	// LSM store flushes and compacts after a commit has returned, and that
	// CPU is as much the writes' cost as the commit's.
	settle()
}

// Flags of the SQLite variants.
var (
	noSecure = flag.Bool("nosecure", false, "SQLite without secure_delete")
	skip     = flag.String("skip", "", "leave out the SQLite indexes whose DDL contains this (trail_, claims_, INDEX for all)")
)

// sqliteSink writes the projections' tables.
type sqliteSink struct {
	db                                                                   *sql.DB
	insClaim, updClaim, upStatus, upClock, upTimer, insTrail, checkpoint *sql.Stmt
}

func openSQLite(dir string) *sqliteSink {
	sd := "1"
	if *noSecure {
		sd = "0"
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "rm.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-16384)&_pragma=secure_delete("+sd+")")
	must(err)
	db.SetMaxOpenConns(1)
	for _, ddl := range []string{
		`CREATE TABLE claims (id TEXT PRIMARY KEY, number TEXT, status TEXT, phone TEXT, email TEXT, serial TEXT, imei TEXT, updated_at INTEGER, version INTEGER, state BLOB) STRICT`,
		`CREATE INDEX claims_number ON claims (number)`, `CREATE INDEX claims_serial ON claims (serial)`, `CREATE INDEX claims_imei ON claims (imei)`,
		`CREATE INDEX claims_phone ON claims (phone)`, `CREATE INDEX claims_email ON claims (email)`,
		`CREATE INDEX claims_status ON claims (status, updated_at, id)`, `CREATE INDEX claims_updated ON claims (updated_at, id)`,
		`CREATE TABLE status (number TEXT PRIMARY KEY, phone_hash BLOB, status TEXT, view BLOB) STRICT`,
		`CREATE TABLE clocks (claim_id TEXT PRIMARY KEY, number TEXT, claim_status TEXT, claim_version INTEGER, clocks BLOB) STRICT`,
		`CREATE TABLE timers (claim_id TEXT, clock_name TEXT, status TEXT, due_at INTEGER, clock BLOB, PRIMARY KEY (claim_id, clock_name)) STRICT`,
		`CREATE INDEX timers_due ON timers (status, due_at, claim_id, clock_name)`, `CREATE INDEX timers_clock ON timers (clock_name, status, due_at)`,
		`CREATE TABLE trail (commit_pos INTEGER PRIMARY KEY, claim_id TEXT, revision INTEGER, actor TEXT, role TEXT, action TEXT, occurred_at INTEGER, number TEXT, row BLOB) STRICT`,
		`CREATE INDEX trail_claim ON trail (claim_id, revision)`, `CREATE INDEX trail_actor ON trail (actor, commit_pos)`, `CREATE INDEX trail_role ON trail (role, commit_pos)`,
		`CREATE INDEX trail_action ON trail (action, commit_pos)`, `CREATE INDEX trail_occurred ON trail (occurred_at)`, `CREATE INDEX trail_number ON trail (number) WHERE number <> ''`,
		`CREATE TABLE generations (projection TEXT PRIMARY KEY, commit_pos INTEGER) STRICT`,
	} {
		if *skip != "" && strings.Contains(ddl, "INDEX") && strings.Contains(ddl, *skip) {
			continue
		}
		_, err := db.Exec(ddl)
		must(err)
	}
	for _, p := range []string{"claims", "status", "timers", "audit_trail", "compensations"} {
		_, err := db.Exec(`INSERT INTO generations VALUES (?, 0)`, p)
		must(err)
	}
	s := &sqliteSink{db: db}
	prep := func(q string) *sql.Stmt { st, err := db.Prepare(q); must(err); return st }
	s.insClaim = prep(`INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	s.updClaim = prep(`UPDATE claims SET status = ?, updated_at = ?, version = ?, state = ? WHERE id = ?`)
	s.upStatus = prep(`INSERT INTO status VALUES (?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET status = excluded.status, view = excluded.view`)
	s.upClock = prep(`INSERT INTO clocks VALUES (?, ?, ?, ?, ?) ON CONFLICT (claim_id) DO UPDATE SET claim_status = excluded.claim_status, claim_version = excluded.claim_version, clocks = excluded.clocks`)
	s.upTimer = prep(`INSERT INTO timers VALUES (?, ?, ?, ?, ?) ON CONFLICT (claim_id, clock_name) DO UPDATE SET status = excluded.status, due_at = excluded.due_at, clock = excluded.clock`)
	s.insTrail = prep(`INSERT INTO trail VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	s.checkpoint = prep(`UPDATE generations SET commit_pos = ? WHERE projection = ?`)
	return s
}

func (s *sqliteSink) write(evs []event) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	for _, e := range evs {
		c := e.c
		if e.newClaim {
			_, err = tx.Stmt(s.insClaim).Exec(c.id, c.number, statuses[c.status], c.phone, c.id[:8]+"@example.com", c.id[9:20], c.id[20:], c.updated, c.rev, state)
		} else {
			_, err = tx.Stmt(s.updClaim).Exec(statuses[c.status], c.updated, c.rev, state, c.id)
		}
		must(err)
		_, err = tx.Stmt(s.upStatus).Exec(c.number, []byte(c.phone), statuses[c.status], view)
		must(err)
		_, err = tx.Stmt(s.upClock).Exec(c.id, c.number, statuses[c.status], c.rev, clock)
		must(err)
		if e.pos%2 == 0 {
			_, err = tx.Stmt(s.upTimer).Exec(c.id, fmt.Sprint("clock", c.rev%3), statuses[c.status], e.pos+86400, clock)
			must(err)
		}
		number := "" // on the registration row only, as the trail writes it
		if e.newClaim {
			number = c.number
		}
		_, err = tx.Stmt(s.insTrail).Exec(e.pos, c.id, c.rev, fmt.Sprint("actor-", c.actor), "technician", actions[e.action], e.pos, number, trailRow)
		must(err)
	}
	last := evs[len(evs)-1].pos
	for _, p := range []string{"claims", "status", "timers", "audit_trail", "compensations"} {
		_, err = tx.Stmt(s.checkpoint).Exec(last, p)
		must(err)
	}
	return tx.Commit()
}

// pebbleSink writes the same rows and index entries as keys.
type pebbleSink struct{ db *pebble.DB }

func openPebble(dir string) *pebbleSink {
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{})
	must(err)
	return &pebbleSink{db: db}
}

func (s *pebbleSink) write(evs []event) error {
	b := s.db.NewBatch()
	for _, e := range evs {
		c := e.c
		id := []byte(c.id)
		b.Set(key([]byte("c"), id), state, nil)
		if e.newClaim {
			for _, f := range []string{"n" + c.number, "p" + c.phone, "e" + c.id[:8], "s" + c.id[9:20], "i" + c.id[20:]} {
				b.Set(key([]byte("ci"), []byte(f), id), nil, nil)
			}
		} else {
			b.Delete(key([]byte("cs"), []byte(statuses[e.oldSt]), be(e.oldUpd), id), nil)
			b.Delete(key([]byte("cu"), be(e.oldUpd), id), nil)
		}
		b.Set(key([]byte("cs"), []byte(statuses[c.status]), be(c.updated), id), nil, nil)
		b.Set(key([]byte("cu"), be(c.updated), id), nil, nil)
		b.Set(key([]byte("st"), []byte(c.number)), view, nil)
		b.Set(key([]byte("ck"), id), clock, nil)
		if e.pos%2 == 0 {
			cn := []byte(fmt.Sprint("clock", c.rev%3))
			b.Set(key([]byte("tm"), id, cn), clock, nil)
			b.Set(key([]byte("td"), []byte(statuses[c.status]), be(e.pos+86400), id, cn), nil, nil)
			b.Set(key([]byte("tc"), cn, []byte(statuses[c.status]), be(e.pos+86400)), nil, nil)
		}
		pos := be(e.pos)
		b.Set(key([]byte("t"), pos), trailRow, nil)
		b.Set(key([]byte("tcl"), id, be(int64(c.rev))), pos, nil)
		b.Set(key([]byte("tac"), []byte(fmt.Sprint("actor-", c.actor)), pos), nil, nil)
		b.Set(key([]byte("tro"), []byte("technician"), pos), nil, nil)
		b.Set(key([]byte("tat"), []byte(actions[e.action]), pos), nil, nil)
		b.Set(key([]byte("toc"), pos), nil, nil)
		if e.newClaim {
			b.Set(key([]byte("tnu"), []byte(c.number), pos), nil, nil)
		}
	}
	last := be(evs[len(evs)-1].pos)
	for _, p := range []string{"claims", "status", "timers", "audit_trail", "compensations"} {
		b.Set(key([]byte("g"), []byte(p)), last, nil)
	}
	return b.Commit(pebble.NoSync)
}

// settle flushes the memtable and waits until no compaction has run for a
// second: with no writes coming, Pebble starts none once every level is
// within its target size. (Its estimated debt is no guide: it need not
// reach zero.)
func (s *pebbleSink) settle() {
	must(s.db.Flush())
	quiet := time.Now()
	for time.Since(quiet) < time.Second {
		if s.db.Metrics().Compact.NumInProgress > 0 {
			quiet = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle has nothing to wait for: SQLite does its work in the commit (the
// WAL is checkpointed by the commits themselves here).
func (s *sqliteSink) settle() {}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	engine := flag.String("engine", "sqlite", "sqlite or pebble")
	batch := flag.Int("batch", 5, "events per transaction")
	preload := flag.Int("preload", 50000, "events written before measuring")
	n := flag.Int("n", 40000, "events measured")
	flag.Parse()
	dir, err := os.MkdirTemp("", "writeshape")
	must(err)
	defer os.RemoveAll(dir)
	var s sink
	if *engine == "none" {
		s = noneSink{}
	} else if *engine == "sqlite" {
		s = openSQLite(dir)
	} else {
		s = openPebble(dir)
	}
	w := &workload{active: make([]*claim, 64), rng: rand.New(rand.NewPCG(1, 2))}
	run := func(total, size int) {
		evs := make([]event, 0, size)
		for i := 0; i < total; i++ {
			evs = append(evs, w.next())
			if len(evs) == size {
				must(s.write(evs))
				evs = evs[:0]
			}
		}
	}
	run(*preload, 500)
	s.settle()
	c0, t0 := cpu(), time.Now()
	run(*n, *batch)
	c1, t1 := cpu(), time.Now()
	s.settle()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(*n) }
	fmt.Printf("%s batch=%d: %.1f CPU-us/event in the commits, %.1f with the compactions they leave; %.1f wall-us/event\n",
		*engine, *batch, us(c1-c0), us(cpu()-c0), us(t1.Sub(t0)))
}

// noneSink writes nothing: the workload's own cost.
type noneSink struct{}

func (noneSink) write([]event) error { return nil }
func (noneSink) settle()             {}
