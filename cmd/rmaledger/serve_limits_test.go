package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
)

// rawRequest is an HTTP/1.1 exchange on a connection of its own, written
// by hand so that the test decides when each part of the request is sent.
type rawRequest struct {
	conn   net.Conn
	reader *bufio.Reader
	rest   string // the body not yet sent
}

// dialRaw opens a connection to addr.
func dialRaw(t *testing.T, addr string) *rawRequest {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawRequest{conn: conn, reader: bufio.NewReader(conn)}
}

// startRegistration sends the headers of POST /v1/claims and half its body;
// finish sends the rest.
func (r *rawRequest) startRegistration(t *testing.T) *rawRequest {
	t.Helper()
	half := len(registration) / 2
	r.rest = registration[half:]
	r.send(t, fmt.Sprintf("POST /v1/claims HTTP/1.1\r\nHost: rmaledger\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		agentKey, len(registration), registration[:half]))
	return r
}

func (r *rawRequest) send(t *testing.T, data string) {
	t.Helper()
	if _, err := io.WriteString(r.conn, data); err != nil {
		t.Fatal(err)
	}
}

// finish sends the rest of the body and reads the answer.
func (r *rawRequest) finish(t *testing.T) (int, error) {
	t.Helper()
	if _, err := io.WriteString(r.conn, r.rest); err != nil {
		return 0, err // the server closed the connection already
	}
	return r.answer(5 * time.Second)
}

// answer reads a response's status within d; an error says the connection
// ended (or d passed) without one.
func (r *rawRequest) answer(d time.Duration) (int, error) {
	r.conn.SetReadDeadline(time.Now().Add(d))
	res, err := http.ReadResponse(r.reader, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// isTimeout says the test's own deadline passed: the server had not
// answered or closed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// holdSlot starts a registration whose body is still on its way and returns
// once it holds the service's one request slot: a probe then gets 503.
func holdSlot(t *testing.T, s *served) *rawRequest {
	t.Helper()
	held := dialRaw(t, s.addr).startRegistration(t)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, got := s.request(t, "GET", "/v1/claims", agentKey, ""); code == http.StatusServiceUnavailable && got["type"] == "urn:rmaledger:problem:overloaded" {
			return held
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow registration never held the request slot")
		}
	}
}

// TestOverloadSettings: with --max-in-flight 1 one slow request is enough
// to turn the next away with 503 (the default, 256, would serve it), and
// the refused request waited --overload-wait first (not the default 100ms).
func TestOverloadSettings(t *testing.T) {
	s := serveInProcess(t, "--data-dir", t.TempDir(), "--max-in-flight", "1", "--overload-wait", "1500ms")
	s.waitReady(t)
	held := dialRaw(t, s.addr).startRegistration(t)
	var waited time.Duration
	for deadline := time.Now().Add(15 * time.Second); ; {
		began := time.Now()
		code, got := s.request(t, "GET", "/v1/claims", agentKey, "")
		if code == http.StatusServiceUnavailable {
			if got["type"] != "urn:rmaledger:problem:overloaded" {
				t.Fatalf("503 %v", got)
			}
			waited = time.Since(began)
			break
		}
		if code != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("with one slow request in flight and --max-in-flight 1: %d %v", code, got)
		}
	}
	if waited < 1500*time.Millisecond {
		t.Errorf("refused after %s, want at least --overload-wait 1.5s", waited)
	}
	if code, err := held.finish(t); code != http.StatusCreated {
		t.Errorf("the slow registration: %d %v", code, err)
	}
	if code, _ := s.request(t, "GET", "/v1/claims", agentKey, ""); code != http.StatusOK {
		t.Errorf("with the slot free again: %d", code)
	}
}

// TestServeTimeouts: each of the HTTP server's timeouts ends what it
// bounds, and a shutdown gives up on a request still running after
// --shutdown-timeout. The service has one request slot, so that a probe
// answering 503 shows a slow request is being handled.
func TestServeTimeouts(t *testing.T) {
	s := serveInProcess(t, "--data-dir", t.TempDir(), "--read-timeout", "2s", "--write-timeout", "300ms", "--idle-timeout", "300ms",
		"--shutdown-timeout", "300ms", "--max-in-flight", "1", "--overload-wait", "50ms")
	s.waitReady(t)

	t.Run("ReadTimeout", func(t *testing.T) {
		// A body that never comes: the connection ends after 2s, not 15s.
		r := dialRaw(t, s.addr).startRegistration(t)
		if _, err := r.answer(8 * time.Second); isTimeout(err) {
			t.Errorf("a request still unread after 8s with --read-timeout 2s")
		}
	})
	t.Run("WriteTimeout", func(t *testing.T) {
		// The body comes 800ms after the headers: within the read timeout,
		// but the answer is due 300ms after the headers, so it is not sent.
		r := dialRaw(t, s.addr).startRegistration(t)
		time.Sleep(800 * time.Millisecond)
		if code, err := r.finish(t); err == nil || isTimeout(err) {
			t.Errorf("an answer past --write-timeout 300ms: %d %v", code, err)
		}
	})
	t.Run("IdleTimeout", func(t *testing.T) {
		// A kept-alive connection idle for 800ms is closed (without
		// --idle-timeout the read timeout, 2s, would bound it).
		r := dialRaw(t, s.addr)
		r.send(t, "GET /healthz HTTP/1.1\r\nHost: rmaledger\r\n\r\n")
		if code, err := r.answer(5 * time.Second); code != http.StatusOK {
			t.Fatalf("healthz: %d %v", code, err)
		}
		time.Sleep(800 * time.Millisecond)
		_, _ = io.WriteString(r.conn, "GET /healthz HTTP/1.1\r\nHost: rmaledger\r\n\r\n")
		if code, err := r.answer(5 * time.Second); err == nil || isTimeout(err) {
			t.Errorf("a connection idle for 800ms with --idle-timeout 300ms still answered: %d %v", code, err)
		}
	})
	t.Run("ShutdownTimeout", func(t *testing.T) {
		// A request in flight (its body due for up to 2s): the shutdown
		// stops waiting for it after 300ms and says so.
		holdSlot(t, s)
		began := time.Now()
		err := s.stop()
		if err == nil || !strings.Contains(err.Error(), "draining requests") {
			t.Errorf("shutdown with a request in flight past --shutdown-timeout: %v", err)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("shutdown took %s", took)
		}
	})
}

// slaPolicy keeps the clock on a claim's first response one hour, around
// the clock, so that a claim registered an hour ago is due now.
const slaPolicy = `versions:
  - version: sla-test-1
    time_zone: UTC
    working_hours: {monday: ["00:00-24:00"], tuesday: ["00:00-24:00"], wednesday: ["00:00-24:00"], thursday: ["00:00-24:00"],
                    friday: ["00:00-24:00"], saturday: ["00:00-24:00"], sunday: ["00:00-24:00"]}
    warranty:
      categories: {laptop: {manufacturer_months: 36}}
    sla:
      first_response: 1 hour
`

// TestSLAIntervalSetting: a claim whose first-response clock expires a few
// seconds after the service started is acted on within --sla-interval
// (200ms) of it; at the default, 15s, the next pass would come too late for
// the test.
func TestSLAIntervalSetting(t *testing.T) {
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(slaPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	const lead = 5 * time.Second // the clock expires this long after now
	due := time.Now().Add(lead)
	id := registerAt(t, dataDir, policyFile, due.Add(-time.Hour))

	s := serveInProcess(t, "--data-dir", dataDir, "--policy-file", policyFile, "--sla-interval", "200ms")
	s.waitReady(t)
	for deadline := due.Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, got := s.request(t, "GET", "/v1/claims/"+id+"/events", agentKey, "")
		if code != http.StatusOK {
			t.Fatalf("events: %d %v", code, got)
		}
		raw, _ := json.Marshal(got)
		if strings.Contains(string(raw), "claim.sla_breached.v1") {
			if late := time.Since(due); late > 3*time.Second {
				t.Errorf("the breach was recorded %s after the clock expired, with --sla-interval 200ms", late)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no breach recorded 10s after the clock expired, with --sla-interval 200ms:\n%s", raw)
		}
	}
}

// registerAt registers the test's claim into dataDir as the service would
// have at the time at, and returns its id.
func registerAt(t *testing.T, dataDir, policyFile string, at time.Time) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := embedded.Open(dataDir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	codec, closeKeys, err := openPrivacy(config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeKeys()
	book, err := loadPolicy(policyFile, at)
	if err != nil {
		t.Fatal(err)
	}
	service, err := ledger.New(store, ledger.Config{Policies: book, Privacy: codec, Clock: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	var cmd domain.RegisterClaim
	if err := json.Unmarshal([]byte(registration), &cmd); err != nil {
		t.Fatal(err)
	}
	res, err := service.Register(context.Background(), &cmd, ledger.Request{Actor: ledger.Actor{Name: "agent", Role: "agent"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Claim.ID.String()
}

// TestEventStoreURLSetting: with --eventstore-url the service keeps its
// events in KurrentDB, not in the data directory: here a server that does
// not answer, so the service is alive but never ready (the embedded store
// is ready within a second), and writes no events.db; and the log's backup
// points to KurrentDB's own. With RMALEDGER_TEST_KURRENTDB_URL it also
// serves a registration from a real server.
func TestEventStoreURLSetting(t *testing.T) {
	dataDir := t.TempDir()
	nobody := "kurrentdb://" + freeAddr(t) + "?tls=false"
	s := serveInProcess(t, "--data-dir", dataDir, "--eventstore-url", nobody)
	if !strings.Contains(s.output.String(), "kurrentdb event store opened") {
		t.Errorf("the log does not say KurrentDB:\n%s", s.output)
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if code, got := s.request(t, "GET", "/readyz", "", ""); code != http.StatusServiceUnavailable {
			t.Fatalf("ready with no KurrentDB to talk to: %d %v", code, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "events.db")); err == nil {
		t.Error("an embedded event log in the data directory although --eventstore-url is set")
	}
	if out, err := runInProcess(t, "backup", filepath.Join(t.TempDir(), "b"), "--data-dir", dataDir, "--eventstore-url", nobody); err == nil || !strings.Contains(err.Error(), "KurrentDB's own backup") {
		t.Errorf("backup of a KurrentDB log: %v\n%s", err, out)
	}

	t.Run("a real server", func(t *testing.T) {
		url := os.Getenv("RMALEDGER_TEST_KURRENTDB_URL")
		if url == "" {
			t.Skip("set RMALEDGER_TEST_KURRENTDB_URL (e.g. kurrentdb://localhost:2113?tls=false) to serve from a real KurrentDB: docker compose up -d kurrentdb")
		}
		dataDir := t.TempDir()
		s := serveInProcess(t, "--data-dir", dataDir, "--eventstore-url", url)
		s.waitReady(t)
		claim := s.register(t)
		if code, _ := s.request(t, "GET", "/v1/claims/"+claim["id"].(string)+"/events", agentKey, ""); code != http.StatusOK {
			t.Errorf("the registration's events: %d", code)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "events.db")); err == nil {
			t.Error("an embedded event log beside KurrentDB")
		}
	})
}
