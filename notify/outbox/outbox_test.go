package outbox

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/notify"
)

// A crash after queueing and before sending loses nothing and sends each
// message once; a restart resumes at the checkpoint.
func TestQueuedMessagesSurviveARestartAndGoOnce(t *testing.T) {
	store := openStore(t)
	path := dbPath(t)
	a, b := uuid.New(), uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"), assigned("desk-1"))
	appendClaim(t, store, b, registered(b, "RMA-2", "georgi@example.com", "cust-2"))

	o := openOutbox(t, store, path)
	mustCatchUp(t, o)
	queued := list(t, o, Filter{})
	if len(queued) != 3 {
		t.Fatalf("queued %d messages, want 3 (one per event)", len(queued))
	}
	// The process dies before any sender ran.
	o.Close()

	snd := &sender{}
	o = openOutbox(t, store, path, withSender(notify.Email, snd))
	mustCatchUp(t, o)
	if got := list(t, o, Filter{}); len(got) != 3 {
		t.Fatalf("after the restart %d messages are queued, want the same 3", len(got))
	}
	mustDeliver(t, o)
	counts := snd.counts()
	for _, e := range queued {
		if counts[e.Message.ID] != 1 {
			t.Errorf("message %s (%s) handed over %d times, want once", e.Message.ID, e.Message.Kind, counts[e.Message.ID])
		}
		if types := deliveryStream(t, store, e.Message.ID, 0); strings.Join(types, ",") != ClaimedType+","+SentType {
			t.Errorf("delivery stream of %s holds %v, want a claim and a sent", e.Message.ID, types)
		}
	}
	if len(counts) != 3 {
		t.Fatalf("handed over %d distinct messages, want 3", len(counts))
	}
	if sent := list(t, o, Filter{Status: Sent}); len(sent) != 3 {
		t.Fatalf("%d messages are marked sent, want 3", len(sent))
	}

	// A new event after a restart is queued, the old ones are not again.
	o.Close()
	appendClaim(t, store, b, assigned("desk-2"))
	o = openOutbox(t, store, path, withSender(notify.Email, snd))
	mustCatchUp(t, o)
	mustDeliver(t, o)
	if got := len(snd.messages()); got != 4 {
		t.Fatalf("after a restart and one more event %d messages were handed over, want 4", got)
	}
	if last := snd.messages()[3]; last.Kind != "claim.assigned.v1" || last.Recipient != "georgi@example.com" {
		t.Fatalf("the new message is %s to %s", last.Kind, last.Recipient)
	}
}

// A new outbox does not mail the log's history, but knows its claims.
func TestFreshOutboxStartsAtTheEndOfTheLog(t *testing.T) {
	store := openStore(t)
	a := uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"), assigned("desk-1"))
	o := openOutbox(t, store, dbPath(t), func(c *Config) { c.FromStart = false })
	mustCatchUp(t, o)
	if got := list(t, o, Filter{}); len(got) != 0 {
		t.Fatalf("a fresh outbox queued %d messages of the history", len(got))
	}
	if h := o.Health(); h.Checkpoint.Compare(eventstore.Start) == 0 {
		t.Fatal("the fresh outbox's checkpoint is not at the end of the log")
	}
	appendClaim(t, store, a, assigned("desk-2"))
	mustCatchUp(t, o)
	got := list(t, o, Filter{})
	if len(got) != 1 || got[0].Message.Recipient != "ivana@example.com" || got[0].Message.Subject != "Claim RMA-1" {
		t.Fatalf("after a new event the outbox queued %+v, want one e-mail to the known customer", got)
	}
}

// flakyReads is a store whose reads of $all fail after the first few.
type flakyReads struct {
	eventstore.Store
	left int
}

func (f *flakyReads) ReadAll(ctx context.Context, after eventstore.Position, max int, filter eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if f.left--; f.left < 0 {
		return nil, eventstore.ErrUnavailable
	}
	return f.Store.ReadAll(ctx, after, max, filter)
}

// A new outbox interrupted while it learns the history resumes learning:
// it does not mail the rest of the history.
func TestFreshOutboxInterruptedWhileLearningMailsNoHistory(t *testing.T) {
	store := openStore(t)
	path := dbPath(t)
	for range 4 {
		c := uuid.New()
		appendClaim(t, store, c, registered(c, "RMA-1", "ivana@example.com", "cust-1"), assigned("desk-1"))
	}
	fresh := func(c *Config) { c.FromStart = false }
	o := openOutbox(t, &flakyReads{Store: store, left: 2}, path, fresh)
	o.batch = 2
	if err := o.catchUp(context.Background()); err == nil {
		t.Fatal("the catch-up did not fail with the store")
	}
	if o.Health().Checkpoint.Compare(eventstore.Start) == 0 {
		t.Fatal("nothing was learnt before the failure: the test proves nothing")
	}
	o.Close()
	o = openOutbox(t, store, path, fresh)
	mustCatchUp(t, o)
	if got := list(t, o, Filter{}); len(got) != 0 {
		t.Fatalf("after the interrupted learning %d messages of the history were queued", len(got))
	}
	c := uuid.New()
	appendClaim(t, store, c, registered(c, "RMA-9", "new@example.com", "cust-9"))
	mustCatchUp(t, o)
	if got := list(t, o, Filter{}); len(got) != 1 {
		t.Fatalf("after the learning a new claim queued %d messages, want 1", len(got))
	}
}

// A Sender accepted the message, then the process died before recording
// it: once the lease ran out, the message goes again with the same id.
func TestCrashAfterSendBeforeSentGoesAgainWithTheSameID(t *testing.T) {
	store := openStore(t)
	path := dbPath(t)
	clk := newClock()
	a := uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"))

	// The sender accepts the message, then the process dies: the
	// delivering goroutine ends without recording anything.
	dying := &sender{}
	dead := false
	dying.fail = func(notify.Message) error {
		if dead {
			return errTemporary // a dead process sends nothing more
		}
		return nil
	}
	dying.after = func() {
		dying.mu.Lock()
		dead = true
		dying.mu.Unlock()
		runtime.Goexit()
	}
	o := openOutbox(t, store, path, withClock(clk), withSender(notify.Email, dying))
	mustCatchUp(t, o)
	mustDeliver(t, o)
	o.Close()
	if len(dying.messages()) != 1 {
		t.Fatalf("the dying sender got %d messages", len(dying.messages()))
	}
	id := dying.messages()[0].ID

	clk.Add(DefaultLease + time.Second)
	snd := &sender{}
	o = openOutbox(t, store, path, withClock(clk), withSender(notify.Email, snd))
	mustDeliver(t, o)
	if got := snd.messages(); len(got) != 1 || got[0].ID != id {
		t.Fatalf("after the restart the sender got %v, want the message %s again", got, id)
	}
	types := deliveryStream(t, store, id, 0)
	if len(types) < 3 || types[len(types)-1] != SentType || strings.Count(strings.Join(types, ","), SentType) != 1 {
		t.Fatalf("delivery stream holds %v, want the claims of both processes and one sent", types)
	}
}

// Two instances over one log each queue every message; each is handed to
// a sender exactly once.
func TestTwoInstancesSendEachMessageOnce(t *testing.T) {
	store := openStore(t)
	clk := newClock()
	for i := range 15 {
		c := uuid.New()
		appendClaim(t, store, c, registered(c, "RMA-"+string(rune('A'+i)), "c"+string(rune('a'+i))+"@example.com", "cust"), assigned("desk-1"))
	}
	sa, sb := &sender{}, &sender{}
	oa := openOutbox(t, store, dbPath(t), withClock(clk), withSender(notify.Email, sa), func(c *Config) { c.Instance = "a" })
	ob := openOutbox(t, store, dbPath(t), withClock(clk), withSender(notify.Email, sb), func(c *Config) { c.Instance = "b" })
	mustCatchUp(t, oa)
	mustCatchUp(t, ob)
	for range 2 {
		var wg sync.WaitGroup
		for _, o := range []*Outbox{oa, ob} {
			wg.Go(func() { mustDeliver(t, o) })
		}
		wg.Wait()
		clk.Add(DefaultLease + time.Second) // losers look again after the lease
	}
	total := map[uuid.UUID]int{}
	for id, n := range sa.counts() {
		total[id] += n
	}
	for id, n := range sb.counts() {
		total[id] += n
	}
	if len(total) != 30 {
		t.Fatalf("%d distinct messages were sent, want 30", len(total))
	}
	for id, n := range total {
		if n != 1 {
			t.Errorf("message %s was handed over %d times", id, n)
		}
	}
	for _, o := range []*Outbox{oa, ob} {
		if sent := list(t, o, Filter{Status: Sent}); len(sent) != 30 {
			t.Errorf("instance %s marks %d messages sent, want 30", o.cfg.Instance, len(sent))
		}
	}
	if len(sa.messages()) == 0 || len(sb.messages()) == 0 {
		t.Logf("one instance sent everything (a: %d, b: %d)", len(sa.messages()), len(sb.messages()))
	}
}

// An instance that dies mid-send leaves its message to the other once its
// lease ran out: only that message goes twice, with the same id.
func TestInstanceDyingMidSendLeavesItsMessageToTheOther(t *testing.T) {
	store := openStore(t)
	clk := newClock()
	for i := range 6 {
		c := uuid.New()
		appendClaim(t, store, c, registered(c, "RMA-"+string(rune('A'+i)), "c"+string(rune('a'+i))+"@example.com", "cust"))
	}
	// a delivers two messages and dies sending the third: the sender
	// accepted it, nothing recorded it. Dead, a sends nothing more.
	var died uuid.UUID
	sa := &sender{}
	sa.fail = func(notify.Message) error {
		if died != uuid.Nil {
			return errTemporary
		}
		return nil
	}
	sa.after = func() {
		sa.mu.Lock()
		dies := len(sa.got) == 3 && died == uuid.Nil
		if dies {
			died = sa.got[2].ID
		}
		sa.mu.Unlock()
		if dies {
			runtime.Goexit()
		}
	}
	sb := &sender{}
	oa := openOutbox(t, store, dbPath(t), withClock(clk), withSender(notify.Email, sa), func(c *Config) { c.Instance = "a"; c.Concurrency = 1 })
	ob := openOutbox(t, store, dbPath(t), withClock(clk), withSender(notify.Email, sb), func(c *Config) { c.Instance = "b" })
	mustCatchUp(t, oa)
	mustCatchUp(t, ob)
	mustDeliver(t, oa)
	oa.Close()
	if died == uuid.Nil {
		t.Fatal("instance a did not get to its third message")
	}

	mustDeliver(t, ob)
	if sb.counts()[died] != 0 {
		t.Fatal("the other instance sent the message while the dead one's lease was live")
	}
	clk.Add(DefaultLease + time.Second)
	mustDeliver(t, ob)
	total := sa.counts()
	for id, n := range sb.counts() {
		total[id] += n
	}
	if len(total) != 6 {
		t.Fatalf("%d distinct messages were sent, want 6", len(total))
	}
	for id, n := range total {
		want := 1
		if id == died {
			want = 2
		}
		if n != want {
			t.Errorf("message %s handed over %d times, want %d", id, n, want)
		}
	}
}

// A receiver down for an hour gets everything of its key in order once it
// recovers; other keys are not held up.
func TestOrderPerKeyThroughAnHourOfFailures(t *testing.T) {
	store := openStore(t)
	clk := newClock()
	recovers := t0.Add(time.Hour)
	snd := &sender{clock: clk, fail: func(m notify.Message) error {
		if m.Recipient == "down@example.com" && clk.Now().Before(recovers) {
			return errTemporary
		}
		return nil
	}}
	o := openOutbox(t, store, dbPath(t), withClock(clk), withSender(notify.Email, snd))
	var ms []notify.Message
	for i := range 5 {
		ms = append(ms, message("down-"+string(rune('0'+i)), "down@example.com", "claim-down"))
		ms = append(ms, message("up-"+string(rune('0'+i)), "up@example.com", "claim-up"))
	}
	if err := o.Enqueue(context.Background(), ms...); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		next := mustDeliver(t, o)
		if next.IsZero() {
			break
		}
		clk.Set(next)
	}
	var down, up []string
	for i, m := range snd.messages() {
		if m.Recipient == "up@example.com" {
			up = append(up, m.Kind)
			if !snd.at[i].Equal(t0) {
				t.Errorf("%s went at %s, held up by another key", m.Kind, snd.at[i])
			}
		} else {
			down = append(down, m.Kind)
			if snd.at[i].Before(recovers) {
				t.Errorf("%s went at %s, before the receiver recovered", m.Kind, snd.at[i])
			}
		}
	}
	if strings.Join(down, ",") != "down-0,down-1,down-2,down-3,down-4" || strings.Join(up, ",") != "up-0,up-1,up-2,up-3,up-4" {
		t.Fatalf("delivered in the order %v and %v", down, up)
	}
	atts, err := o.Attempts(context.Background(), ms[0].ID)
	if err != nil || len(atts) < 2 || atts[0].Error != errTemporary.Error() {
		t.Fatalf("the first message's attempts are %+v, %v; want the failures kept", atts, err)
	}
}

type temporary struct{}

func (temporary) Error() string { return "421 try again later" }

var errTemporary error = temporary{}

func message(kind, to, key string) notify.Message {
	return notify.Message{ID: notify.MessageID(kind, notify.Email, to), Channel: notify.Email, Recipient: to,
		Kind: kind, OrderKey: key, Subject: kind, Text: "about " + kind}
}

func TestBackoffGrowsWithFullJitter(t *testing.T) {
	top := func(k int64) int64 { return k - 1 }
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := backoff(i+1, 30*time.Second, time.Hour, top); got != w {
			t.Errorf("the longest wait after failure %d is %s, want %s", i+1, got, w)
		}
	}
	if got := backoff(1000, 30*time.Second, time.Hour, top); got != time.Hour {
		t.Errorf("after many failures the longest wait is %s, want the cap", got)
	}
	if got := backoff(5, 30*time.Second, time.Hour, func(int64) int64 { return 0 }); got != 0 {
		t.Errorf("full jitter reaches down to %s, want 0", got)
	}
}

func TestGivesUpAfterGiveUpAfterAndPermanentFailsAtOnce(t *testing.T) {
	store := openStore(t)
	clk := newClock()
	snd := &sender{fail: func(m notify.Message) error {
		if m.Recipient == "refused@example.com" {
			return notify.Permanent(errRefused)
		}
		return errTemporary
	}}
	o := openOutbox(t, store, dbPath(t), withClock(clk), withSender(notify.Email, snd))
	ctx := context.Background()
	if err := o.Enqueue(ctx, message("a", "refused@example.com", ""), message("b", "down@example.com", "")); err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, o)
	failed := list(t, o, Filter{Status: Failed})
	if len(failed) != 1 || failed[0].Message.Recipient != "refused@example.com" || failed[0].Attempts != 1 || failed[0].LastError != errRefused.Error() {
		t.Fatalf("after one round the failed messages are %+v, want the refused one alone", failed)
	}
	var waits []time.Duration
	for range 1000 {
		before := clk.Now()
		next := mustDeliver(t, o)
		if next.IsZero() {
			break
		}
		waits = append(waits, next.Sub(before))
		clk.Set(next)
	}
	e := list(t, o, Filter{Recipient: "down@example.com"})[0]
	if e.Status != Failed {
		t.Fatalf("the message to a receiver down for good is %s", e.Status)
	}
	if span := e.NextAttempt; !span.IsZero() {
		t.Fatal("a failed message still has a next attempt")
	}
	if d := clk.Now().Sub(e.FirstAttempt); d < DefaultGiveUpAfter || d > DefaultGiveUpAfter+DefaultRetryMax {
		t.Fatalf("gave up %s after the first attempt, want %s", d, DefaultGiveUpAfter)
	}
	if e.Attempts < 26 {
		t.Fatalf("gave up after %d attempts: retries are at most an hour apart", e.Attempts)
	}
	longest := time.Duration(0)
	for _, w := range waits {
		if w > DefaultRetryMax {
			t.Fatalf("waited %s between attempts, more than the cap", w)
		}
		longest = max(longest, w)
	}
	if longest < 10*time.Minute {
		t.Fatalf("the longest wait was %s: the backoff does not grow", longest)
	}
	st, err := o.Stats(ctx)
	if err != nil || st.Counts[notify.Email][Failed] != 2 {
		t.Fatalf("stats %+v, %v; want 2 failed e-mails", st, err)
	}
	// Retry puts a failed message back, as a new round.
	snd.fail = nil
	if err := o.Retry(ctx, e.Message.ID); err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, o)
	if got := snd.counts()[e.Message.ID]; got != 1 {
		t.Fatalf("after Retry the message was handed over %d times", got)
	}
	if types := deliveryStream(t, store, e.Message.ID, 1); len(types) != 2 {
		t.Fatalf("the retry's delivery stream holds %v", types)
	}
	if err := o.Retry(ctx, e.Message.ID); err == nil {
		t.Fatal("Retry of a sent message succeeded")
	}
}

type refused struct{}

func (refused) Error() string { return "550 no such mailbox" }

var errRefused error = refused{}

func TestReplayFromAPositionSendsAgainWithTheSameID(t *testing.T) {
	store := openStore(t)
	a := uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"))
	from := appendClaim(t, store, a, assigned("desk-1"))
	appendClaim(t, store, a, assigned("desk-2"))
	snd := &sender{}
	o := openOutbox(t, store, dbPath(t), withSender(notify.Email, snd))
	mustCatchUp(t, o)
	mustDeliver(t, o)
	first := snd.messages()
	n, err := o.Replay(context.Background(), notify.Email, "ivana@example.com", from)
	if err != nil || n != 2 {
		t.Fatalf("Replay = %d, %v; want the 2 messages at or after the position", n, err)
	}
	mustDeliver(t, o)
	got := snd.messages()
	if len(got) != 5 || got[3].ID != first[1].ID || got[4].ID != first[2].ID {
		t.Fatalf("after Replay the sender got %d messages; want the last two again with their ids", len(got))
	}
	if types := deliveryStream(t, store, first[1].ID, 1); len(types) != 2 {
		t.Fatalf("the replay's delivery stream holds %v", types)
	}
}

// deskBatcher is a BatchSender of desk alerts.
type deskBatcher struct {
	sender
	batches [][]notify.Message
}

func (d *deskBatcher) SendBatch(_ context.Context, ms []notify.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.batches = append(d.batches, ms)
	return nil
}

func TestBatchingSendsARecipientsAlertsAsOne(t *testing.T) {
	store := openStore(t)
	clk := newClock()
	desk := &deskBatcher{}
	o := openOutbox(t, store, dbPath(t), withClock(clk), withSender(notify.Desk, desk))
	ctx := context.Background()
	for i := range 50 {
		alert := notify.Message{ID: uuid.New(), Channel: notify.Desk, Recipient: "desk@example.com", Kind: "desk.sla_breached", Subject: "due"}
		if err := o.Enqueue(ctx, alert); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			clk.Add(time.Minute)
		}
		if mustDeliver(t, o); len(desk.batches) != 0 {
			t.Fatalf("a batch went after %d alerts, before the window", i+1)
		}
	}
	next := mustDeliver(t, o)
	if want := t0.Add(DefaultBatchWindow); !next.Equal(want) {
		t.Fatalf("the batch is due at %s, want %s", next, want)
	}
	clk.Set(next)
	mustDeliver(t, o)
	if len(desk.batches) != 1 || len(desk.batches[0]) != 50 || len(desk.got) != 0 {
		t.Fatalf("the desk got %d batches and %d single messages; want one batch of 50", len(desk.batches), len(desk.got))
	}
	if sent := list(t, o, Filter{Status: Sent}); len(sent) != 50 {
		t.Fatalf("%d alerts are marked sent", len(sent))
	}
}

func TestQuietClaimGetsOnlyEssentialMessages(t *testing.T) {
	store := openStore(t)
	a := uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"))
	appendRaw(t, store, eventlog.NotifyPreferences.Stream(a), notify.PreferencesSetType, notify.Preferences{Quiet: true})
	appendRaw(t, store, "portal-link-"+a.String(), "portal.link_issued.v1", map[string]string{"language": "bg"})
	appendClaim(t, store, a, assigned("desk-1"))
	o := openOutbox(t, store, dbPath(t))
	mustCatchUp(t, o)
	got := list(t, o, Filter{ClaimID: a})
	if len(got) != 1 || got[0].Message.Kind != "claim.registered.v1" {
		t.Fatalf("a quiet claim's queue holds %d messages, want the essential registration alone", len(got))
	}
	// Quiet ends: the next message goes, in the language of the link.
	appendRaw(t, store, eventlog.NotifyPreferences.Stream(a), notify.PreferencesSetType, notify.Preferences{Quiet: false})
	appendClaim(t, store, a, assigned("desk-2"))
	mustCatchUp(t, o)
	got = list(t, o, Filter{ClaimID: a})
	if len(got) != 2 || got[1].Message.Language != "bg" {
		t.Fatalf("after quiet ended the queue holds %+v", got)
	}
}

func TestErasureBlanksQueuedMessagesWhichAreNeverSent(t *testing.T) {
	store := openStore(t)
	path := dbPath(t)
	a, b := uuid.New(), uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"), assigned("desk-1"))
	appendClaim(t, store, b, registered(b, "RMA-2", "georgi@example.com", "cust-2"))
	o := openOutbox(t, store, path)
	mustCatchUp(t, o)
	appendClaim(t, store, a, domain.PersonalDataErased{CustomerID: "cust-1", At: t0})
	mustCatchUp(t, o)

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`SELECT COUNT(*) FROM messages WHERE instr(recipient || subject || text || html, 'ivana@example.com') > 0
			OR (customer_id = 'cust-1' AND (text != '' OR subject != ''))`,
		`SELECT COUNT(*) FROM attempts WHERE instr(error, 'ivana@example.com') > 0`,
	} {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%d rows still hold the erased customer's data (%s)", n, q)
		}
	}
	var georgi int
	if err := db.QueryRow(`SELECT COUNT(*) FROM messages WHERE recipient = 'georgi@example.com' AND text != ''`).Scan(&georgi); err != nil || georgi != 1 {
		t.Fatalf("another customer's message was touched: %d, %v", georgi, err)
	}
	// Nor do the files' bytes: no free page, no write-ahead log keeps them.
	for _, f := range []string{path, path + "-wal"} {
		raw, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("ivana@example.com")) {
			t.Fatalf("%s still holds the erased customer's address", filepath.Base(f))
		}
	}
	if erased := list(t, o, Filter{Status: Erased}); len(erased) != 2 {
		t.Fatalf("%d messages are marked erased, want the customer's 2", len(erased))
	}
	o.Close()

	snd := &sender{}
	o = openOutbox(t, store, path, withSender(notify.Email, snd))
	mustDeliver(t, o)
	if got := snd.messages(); len(got) != 1 || got[0].Recipient != "georgi@example.com" {
		t.Fatalf("after the erasure the sender got %+v, want the other customer's message alone", got)
	}
}

func TestOldContentIsBlanked(t *testing.T) {
	store := openStore(t)
	clk := newClock()
	o := openOutbox(t, store, dbPath(t), withClock(clk), withSender(notify.Email, &sender{}))
	ctx := context.Background()
	if err := o.Enqueue(ctx, message("old", "ivana@example.com", "")); err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, o)
	clk.Add(DefaultKeepContent - time.Hour)
	if err := o.Enqueue(ctx, message("new", "ivana@example.com", "")); err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, o)
	clk.Add(2 * time.Hour)
	if err := o.purge(ctx); err != nil {
		t.Fatal(err)
	}
	got := list(t, o, Filter{})
	if got[0].Message.Text != "" || got[0].Status != Sent || got[1].Message.Text == "" {
		t.Fatalf("after KeepContent: old %q (%s), new %q; want the old one's content blank", got[0].Message.Text, got[0].Status, got[1].Message.Text)
	}
}

// Started, the outbox follows the log: a new event's message is handed
// over at once, and the delivery lag is observed per message.
func TestStartedOutboxDeliversNewEventsAndObservesTheLag(t *testing.T) {
	store := openStore(t)
	reg := prometheus.NewRegistry()
	snd := &sender{}
	o := openOutbox(t, store, dbPath(t), withSender(notify.Email, snd), func(c *Config) { c.Registerer = reg; c.FromStart = false })
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !o.Health().CaughtUp; {
		if time.Now().After(deadline) {
			t.Fatal("the outbox did not catch up with an empty log")
		}
		time.Sleep(5 * time.Millisecond)
	}
	a, b := uuid.New(), uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"))
	appendClaim(t, store, b, registered(b, "RMA-2", "georgi@example.com", "cust-2"), assigned("desk-1"))
	deadline := time.Now().Add(10 * time.Second)
	for len(snd.messages()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(snd.messages()) != 3 {
		t.Fatalf("the started outbox handed over %d messages, want 3", len(snd.messages()))
	}
	if err := o.Ready(); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var observed uint64
	for _, f := range families {
		if f.GetName() == "rmaledger_notify_delivery_lag_seconds" {
			for _, m := range f.GetMetric() {
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if observed != 3 {
		t.Fatalf("the lag histogram observed %d values, want one per handed message (3)", observed)
	}
}

// hookedAppends is a store that runs a hook before each append.
type hookedAppends struct {
	eventstore.Store
	before func(stream string)
}

func (h *hookedAppends) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if h.before != nil {
		h.before(stream)
	}
	return h.Store.Append(ctx, stream, expected, events...)
}

// A customer erased while their message is on its way to the Sender (read
// from the queue, being claimed) does not get it.
func TestErasureDuringDeliveryStopsTheMessage(t *testing.T) {
	store := openStore(t)
	a := uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"))
	hooked := &hookedAppends{Store: store}
	snd := &sender{}
	o := openOutbox(t, hooked, dbPath(t), withSender(notify.Email, snd))
	mustCatchUp(t, o)
	hooked.before = func(stream string) {
		if strings.HasPrefix(stream, eventlog.DeliveryPrefix) {
			hooked.before = nil
			appendClaim(t, store, a, domain.PersonalDataErased{CustomerID: "cust-1", At: t0})
			mustCatchUp(t, o)
		}
	}
	mustDeliver(t, o)
	if got := snd.messages(); len(got) != 0 {
		t.Fatalf("the sender got %d messages of an erased customer", len(got))
	}
	if erased := list(t, o, Filter{Status: Erased}); len(erased) != 1 {
		t.Fatalf("%d messages are marked erased, want 1", len(erased))
	}
}

// parallel is a Sender that tracks how many sends run at once.
type parallel struct {
	mu          sync.Mutex
	active, top int
	n           int
}

func (p *parallel) Send(context.Context, notify.Message) error {
	p.mu.Lock()
	p.active++
	p.top = max(p.top, p.active)
	p.n++
	p.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	p.mu.Lock()
	p.active--
	p.mu.Unlock()
	return nil
}

func TestConcurrencyIsBounded(t *testing.T) {
	store := openStore(t)
	snd := &parallel{}
	o := openOutbox(t, store, dbPath(t), withSender(notify.Email, snd), func(c *Config) { c.Concurrency = 3 })
	var ms []notify.Message
	for i := range 12 {
		ms = append(ms, message("m"+string(rune('a'+i)), "r"+string(rune('a'+i))+"@example.com", ""))
	}
	if err := o.Enqueue(context.Background(), ms...); err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, o)
	if snd.n != 12 || snd.top != 3 {
		t.Fatalf("%d sends, at most %d at once; want 12, at most 3 (and messages without a key in parallel)", snd.n, snd.top)
	}
}

func TestConfigRefusesGivingUpInLessThanADay(t *testing.T) {
	_, err := Open(Config{Path: dbPath(t), Store: openStore(t), GiveUpAfter: 12 * time.Hour})
	if err == nil || !strings.Contains(err.Error(), "at least a day") {
		t.Fatalf("Open with GiveUpAfter 12h: %v", err)
	}
}

// statusComposer records the claim's status composers are shown.
type statusComposer struct{ seen *[]domain.Status }

func (c statusComposer) Compose(_ context.Context, e notify.Event) ([]notify.Message, error) {
	*c.seen = append(*c.seen, e.Claim.Status)
	return nil, nil
}

// paidRepair is a claim's path through an estimate paid in two parts, and
// the status after each of its events.
func paidRepair(a uuid.UUID) ([]domain.Event, []domain.Status) {
	bgn := func(n int64) domain.Money { return domain.Money{Amount: n, Currency: "BGN"} }
	events := []domain.Event{
		registered(a, "RMA-1", "ivana@example.com", "cust-1"),
		domain.ClaimAuthorized{PaidRepair: true, At: t0},
		domain.EstimateIssued{Total: bgn(5000), At: t0},
		domain.EstimateAccepted{At: t0},
		domain.PaymentRecorded{Amount: bgn(2000), Reference: "p1", Method: "card", At: t0},
		domain.PaymentRecorded{Amount: bgn(3000), Reference: "p2", Method: "card", At: t0},
		assigned("desk-1"),
	}
	var want []domain.Status
	var s domain.State
	for _, e := range events {
		s = domain.Evolve(s, e)
		want = append(want, s.Status)
	}
	return events, want
}

// Composers see the claim as the ledger folds it, after each event.
func TestComposersSeeTheClaimAfterTheEvent(t *testing.T) {
	store := openStore(t)
	a := uuid.New()
	events, want := paidRepair(a)
	for _, e := range events {
		appendClaim(t, store, a, e)
	}
	var seen []domain.Status
	o := openOutbox(t, store, dbPath(t), func(c *Config) { c.Composers = []notify.Composer{statusComposer{&seen}} })
	mustCatchUp(t, o)
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("composers saw the statuses %v, want %v", seen, want)
	}
	if want[5] != domain.StatusPaid {
		t.Fatalf("the fixture does not reach the paid status (%v): it proves less than it should", want)
	}
}

// A restarted outbox has no claim in memory: it folds each claim's state
// again from the claim's stream, through the event before the one it
// composes, and its composers see the same claim as before the restart.
func TestStateFoldedFromTheStoreAfterARestart(t *testing.T) {
	store := openStore(t)
	a := uuid.New()
	events, want := paidRepair(a)
	path := dbPath(t)
	var seen []domain.Status
	composers := func(c *Config) { c.Composers = []notify.Composer{statusComposer{&seen}} }
	for _, e := range events[:3] {
		appendClaim(t, store, a, e)
	}
	o := openOutbox(t, store, path, composers)
	mustCatchUp(t, o)
	o.Close()
	// Later events in the log than the one composed must not leak into
	// its claim: the fold stops before it.
	for _, e := range events[3:] {
		appendClaim(t, store, a, e)
	}
	o = openOutbox(t, store, path, composers)
	mustCatchUp(t, o)
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("composers saw the statuses %v, want %v", seen, want)
	}
}

// An outbox alone on its log (the embedded store admits one process) hands
// each message over once without claiming it in the store: no delivery
// stream is written, and a message whose process died before it was marked
// sent goes again after the restart, with the same id.
func TestAloneClaimsNothingInTheStore(t *testing.T) {
	store := openStore(t)
	path := dbPath(t)
	a := uuid.New()
	appendClaim(t, store, a, registered(a, "RMA-1", "ivana@example.com", "cust-1"), assigned("desk-1"))
	alone := func(c *Config) { c.Alone = true }
	snd := &sender{}
	o := openOutbox(t, store, path, alone, withSender(notify.Email, snd))
	mustCatchUp(t, o)
	mustDeliver(t, o)
	counts := snd.counts()
	if len(counts) != 2 {
		t.Fatalf("handed over %d distinct messages, want 2", len(counts))
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("message %s handed over %d times, want once", id, n)
		}
		if types := deliveryStream(t, store, id, 0); len(types) != 0 {
			t.Errorf("an outbox alone wrote the delivery stream of %s: %v", id, types)
		}
	}
	// The process dies after the sender accepted a message and before it
	// was marked sent: the restarted outbox sends it again, same id.
	appendClaim(t, store, a, domain.ClaimAuthorized{At: t0})
	mustCatchUp(t, o)
	pending := list(t, o, Filter{Status: Pending})
	if len(pending) != 1 {
		t.Fatalf("%d messages pending, want the authorization's", len(pending))
	}
	o.Close()
	if err := snd.Send(context.Background(), pending[0].Message); err != nil { // accepted, never recorded
		t.Fatal(err)
	}
	o = openOutbox(t, store, path, alone, withSender(notify.Email, snd))
	mustCatchUp(t, o)
	mustDeliver(t, o)
	if n := snd.counts()[pending[0].Message.ID]; n != 2 {
		t.Errorf("the message accepted before the crash was handed over %d times, want again once (2)", n)
	}
}
