package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestAllowTakesATokenOrSaysHowLongToWait(t *testing.T) {
	clk := newClock()
	l, err := New(Limit{Burst: 3, Every: 10 * time.Second}, 100, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 10*time.Second {
		t.Fatalf("4th attempt: %v, wait %s; want refused, 10s", ok, wait)
	}
	// Refused attempts take no token: hammering does not push the wait out.
	for range 50 {
		l.Allow("a")
	}
	if ok, b := l.Allow("b"); !ok || b != 0 {
		t.Fatal("another key is limited by the first")
	}
	clk.t = clk.t.Add(9 * time.Second)
	// (x/time/rate counts tokens in float64: allow a rounding microsecond.)
	if ok, wait := l.Allow("a"); ok || wait < time.Second-time.Millisecond || wait > time.Second {
		t.Fatalf("after 9s: %v, %s; want refused for 1s more", ok, wait)
	}
	clk.t = clk.t.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("after 10s the refilled token is refused")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("one token refilled, two taken")
	}
}

// TestSpendAndWait: spending counts what already happened; Wait only asks,
// and waiting what it says is enough.
func TestSpendAndWait(t *testing.T) {
	clk := newClock()
	l, err := New(Limit{Burst: 2, Every: time.Second}, 100, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Wait("a") != 0 {
		t.Error("a key never seen must wait")
	}
	if l.Spend("a") {
		t.Error("the first of a burst of 2 exhausted it")
	}
	if !l.Spend("a") {
		t.Error("the second of a burst of 2 left some")
	}
	if !l.Spend("a") {
		t.Error("spending beyond the burst refilled it")
	}
	wait := l.Wait("a")
	if wait <= 0 || wait > time.Second {
		t.Fatalf("wait %v, want up to Every (1s)", wait)
	}
	for range 10 {
		l.Wait("a") // asking takes nothing
	}
	clk.t = clk.t.Add(wait)
	if l.Wait("a") != 0 {
		t.Error("still waiting after the wait announced")
	}
	if l.Wait("b") != 0 || l.Len() != 1 {
		t.Errorf("asking about another key remembered it: %d keys", l.Len())
	}
}

// TestMemoryIsBounded: the limiter remembers at most its size of keys, and
// forgets idle keys, without ever giving a busy key a fresh bucket early.
func TestMemoryIsBounded(t *testing.T) {
	clk := newClock()
	l, err := New(Limit{Burst: 2, Every: time.Minute}, 1000, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		l.Allow(fmt.Sprintf("2001:db8:%x::1", i))
	}
	if n := l.Len(); n != 1000 {
		t.Fatalf("%d keys remembered, want the bound 1000", n)
	}

	l.Allow("busy")
	l.Allow("busy")
	if ok, _ := l.Allow("busy"); ok {
		t.Fatal("burst of 2 allowed a 3rd")
	}
	// Idle for a full refill (2 minutes): everyone else is forgotten...
	clk.t = clk.t.Add(2*time.Minute + time.Second)
	l.Spend("busy")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d keys after they all idled past a full refill, want 1", n)
	}
	// ...and a key seen within that time keeps its bucket: after 59s it has
	// nothing new, although it was created long ago.
	l.Allow("busy")
	clk.t = clk.t.Add(59 * time.Second)
	if ok, _ := l.Allow("busy"); ok {
		t.Fatal("a busy key got an early token")
	}
}

func TestUnlimited(t *testing.T) {
	l, err := New(Unlimited, 10, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if ok, _ := l.Allow("x"); !ok {
			t.Fatal("Unlimited refused")
		}
		if l.Spend("x") || l.Wait("x") != 0 {
			t.Fatal("Unlimited ran out")
		}
	}
	if l.Len() != 0 {
		t.Fatal("Unlimited remembers keys")
	}
}

func TestValidate(t *testing.T) {
	for _, l := range []Limit{{Burst: 0, Every: time.Second}, {Burst: 3}, {Burst: 3, Every: -time.Second}} {
		if l.Validate() == nil {
			t.Errorf("%+v is accepted", l)
		}
	}
	for _, l := range []Limit{Unlimited, {Burst: 1, Every: time.Nanosecond}} {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                        "192.0.2.7",
		"::ffff:192.0.2.7":                 "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":             "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:ffff:ffff": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":                  "2001:db8:1:3::/64",
		"fe80::1%eth0":                     "fe80::/64",
		"not an address":                   "not an address",
	} {
		if got := ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, time.Minute: 60} {
		if got := RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}
