package statuspage

import (
	"fmt"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimiterBucket(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l, err := newLimiter(Limit{Burst: 3, Every: 10 * time.Second}, 100, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 10*time.Second {
		t.Fatalf("4th attempt: %v, wait %s; want refused, 10s", ok, wait)
	}
	// Refused attempts take no token: hammering does not push the wait out.
	for range 50 {
		l.allow("a")
	}
	if ok, b := l.allow("b"); !ok || b != 0 {
		t.Fatal("another key is limited by the first")
	}
	clk.t = clk.t.Add(9 * time.Second)
	// (x/time/rate counts tokens in float64: allow a rounding microsecond.)
	if ok, wait := l.allow("a"); ok || wait < time.Second-time.Millisecond || wait > time.Second {
		t.Fatalf("after 9s: %v, %s; want refused for 1s more", ok, wait)
	}
	clk.t = clk.t.Add(time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("after 10s the refilled token is refused")
	}
	if ok, _ := l.allow("a"); ok {
		t.Fatal("one token refilled, two taken")
	}
}

// TestLimiterMemory: the limiter remembers at most its size of keys, and
// forgets idle keys, without ever giving a busy key a fresh bucket early.
func TestLimiterMemory(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l, err := newLimiter(Limit{Burst: 2, Every: time.Minute}, 1000, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		l.allow(fmt.Sprintf("2001:db8:%x::1", i))
	}
	if n := l.len(); n != 1000 {
		t.Fatalf("%d keys remembered, want the bound 1000", n)
	}

	l.allow("busy")
	l.allow("busy")
	if ok, _ := l.allow("busy"); ok {
		t.Fatal("burst of 2 allowed a 3rd")
	}
	// Idle for a full refill (2 minutes): everyone else is forgotten...
	clk.t = clk.t.Add(2*time.Minute + time.Second)
	l.allow("busy")
	if n := l.len(); n != 1 {
		t.Fatalf("%d keys after they all idled past a full refill, want 1", n)
	}
	// ...and a key seen within that time keeps its bucket: after 59s it has
	// nothing new, although it was created long ago.
	l.allow("busy")
	clk.t = clk.t.Add(59 * time.Second)
	if ok, _ := l.allow("busy"); ok {
		t.Fatal("a busy key got an early token")
	}
}

func TestLimiterUnlimited(t *testing.T) {
	l, err := newLimiter(Unlimited, 10, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if ok, _ := l.allow("x"); !ok {
			t.Fatal("Unlimited refused")
		}
	}
	if l.len() != 0 {
		t.Fatal("Unlimited remembers keys")
	}
	if err := (Limit{Burst: 0, Every: time.Second}).validate("x"); err == nil {
		t.Error("a zero burst is accepted")
	}
	if err := (Limit{Burst: 3}).validate("x"); err == nil {
		t.Error("a zero period is accepted")
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
