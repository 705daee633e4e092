package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withAuthLimit sets the failure limit and sends the server's log to logs.
func withAuthLimit(l AuthLimit, logs *syncBuffer) testOption {
	return func(w *testWiring) {
		prev := w.config
		w.config = func(c *Config) {
			if prev != nil {
				prev(c)
			}
			c.AuthFailures = l
			if logs != nil {
				c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
			}
		}
	}
}

// from sends GET /v1/claims from a client address with a bearer key
// (empty: no Authorization header) and extra headers.
func (ts *testServer) from(addr, key string, headers ...string) response {
	ts.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/v1/claims", nil)
	req.RemoteAddr = addr
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	ts.echo.ServeHTTP(rec, req)
	return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func TestAuthFailuresAreRateLimitedPerAddress(t *testing.T) {
	ts := newTestServer(t, withAuthLimit(AuthLimit{Burst: 10, Every: 6 * time.Second}, nil))
	attacker, neighbour := "198.51.100.7:40000", "203.0.113.9:40000"
	for i := range 10 {
		// The spoofed header must change nothing: no proxy is trusted.
		res := ts.from(attacker, "guess-"+strconv.Itoa(i), "X-Forwarded-For", "10.0.0."+strconv.Itoa(i))
		if res.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, res.Code)
		}
	}
	res := ts.from(attacker, "guess-11")
	if res.Code != http.StatusTooManyRequests {
		t.Fatalf("11th failure in a minute: %d, want 429\n%s", res.Code, res.Body)
	}
	if p := res.json(t); p["type"] != "urn:rmaledger:problem:auth-rate-limited" || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("429 body: %s", res.Body)
	}
	wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || wait < 1 || wait > 6 {
		t.Errorf("Retry-After %q, want 1 to 6 seconds", res.Header.Get("Retry-After"))
	}
	// A blocked address is not told whether a key is good: even the right
	// one waits.
	if res := ts.from(attacker, ts.keys[RoleAgent]); res.Code != http.StatusTooManyRequests {
		t.Errorf("a valid key from the blocked address: %d, want 429", res.Code)
	}
	// Other addresses are unaffected, and so are requests without failures.
	if res := ts.from(neighbour, "wrong-key-here-123"); res.Code != http.StatusUnauthorized {
		t.Errorf("another address: %d, want 401", res.Code)
	}
	if res := ts.from(neighbour, ts.keys[RoleAgent]); res.Code != http.StatusOK {
		t.Errorf("another address with a good key: %d", res.Code)
	}
	// IPv6 counts by /64: walking the interface identifiers does not help.
	for i := range 11 {
		res := ts.from("[2001:db8:1:2::"+strconv.Itoa(i+1)+"]:5000", "v6-guess")
		if want := http.StatusUnauthorized; i == 10 {
			if res.Code != http.StatusTooManyRequests {
				t.Errorf("11th failure from one /64: %d, want 429", res.Code)
			}
		} else if res.Code != want {
			t.Fatalf("v6 failure %d: %d", i+1, res.Code)
		}
	}
}

// Successful requests cost nothing: only failures count.
func TestAuthFailuresOnlyFailuresCount(t *testing.T) {
	ts := newTestServer(t, withAuthLimit(AuthLimit{Burst: 2, Every: time.Minute}, nil))
	addr := "198.51.100.20:1"
	for range 20 {
		if res := ts.from(addr, ts.keys[RoleAgent]); res.Code != http.StatusOK {
			t.Fatalf("good key: %d", res.Code)
		}
	}
	for i := range 2 {
		if res := ts.from(addr, "bad-key-"+strconv.Itoa(i)); res.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, res.Code)
		}
	}
	if res := ts.from(addr, ts.keys[RoleAgent]); res.Code != http.StatusTooManyRequests {
		t.Fatalf("after the burst: %d, want 429", res.Code)
	}
}

// Every failed authentication is logged with the address, the reason and
// the presented key's fingerprint, never the key.
func TestAuthFailuresAreLogged(t *testing.T) {
	logs := &syncBuffer{}
	ts := newTestServer(t, withAuthLimit(NoAuthLimit, logs))
	const guess = "not-a-key-but-a-secret-guess"
	ts.from("198.51.100.30:9", guess)
	ts.from("198.51.100.31:9", "")
	ts.from("198.51.100.32:9", "", "Authorization", "Basic dXNlcjpwYXNz")

	sum := sha256.Sum256([]byte(guess))
	want := []map[string]string{
		{"address": "198.51.100.30", "reason": "unknown", "key_fingerprint": hex.EncodeToString(sum[:4])},
		{"address": "198.51.100.31", "reason": "missing", "key_fingerprint": ""},
		{"address": "198.51.100.32", "reason": "malformed", "key_fingerprint": ""},
	}
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "authentication failed" {
			got = append(got, rec)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d failure lines, want %d:\n%s", len(got), len(want), logs)
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("line %d: %s = %v, want %q", i, k, got[i][k], v)
			}
		}
		if got[i]["request_id"] == "" || got[i]["path"] != "/v1/claims" {
			t.Errorf("line %d lacks the request id or path: %v", i, got[i])
		}
	}
	if strings.Contains(logs.String(), guess) || strings.Contains(logs.String(), "dXNlcjpwYXNz") {
		t.Error("the log holds a presented credential")
	}
}

// The limiter remembers at most Tracked addresses, and forgets one whose
// bucket has refilled.
func TestAuthLimiterMemoryIsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l, err := newAuthLimiter(AuthLimit{Burst: 3, Every: time.Second, Tracked: 5}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		l.Spend("192.0.2." + strconv.Itoa(i))
	}
	if n := l.Len(); n != 5 {
		t.Errorf("%d addresses remembered, want 5", n)
	}
	for range 3 {
		l.Spend("192.0.2.200")
	}
	if l.Wait("192.0.2.200") <= 0 {
		t.Fatal("3 failures with a burst of 3 did not block")
	}
	if l.Wait("192.0.2.201") != 0 {
		t.Error("an address without failures is blocked")
	}
	// One token back after Every: one more attempt, and Retry-After said so.
	wait := l.Wait("192.0.2.200")
	if wait <= 0 || wait > time.Second {
		t.Errorf("wait %v, want up to Every (1s)", wait)
	}
	now = now.Add(wait)
	if l.Wait("192.0.2.200") != 0 {
		t.Error("still blocked after the wait it announced")
	}
	if l.Spend("192.0.2.200"); l.Wait("192.0.2.200") <= 0 {
		t.Error("not blocked again after the one attempt the refill allowed")
	}
	now = now.Add(3*time.Second + time.Millisecond)
	l.Spend("192.0.2.202") // a failure elsewhere sweeps the refilled ones
	if n := l.Len(); n != 1 {
		t.Errorf("%d addresses remembered after they refilled, want 1", n)
	}
	if l.Wait("192.0.2.200") != 0 {
		t.Error("still blocked after a full refill")
	}
}
