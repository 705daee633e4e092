package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// runInProcess runs `rmaledger ARGS...` through run, in the test's own
// process (faster than the binary, and the same parsing, validation and
// wiring), and returns what it printed and its error.
func runInProcess(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, &out)
	return out.String(), err
}

// served is `rmaledger serve` running in the test's process.
type served struct {
	addr    string
	output  *lockedBuffer
	cancel  context.CancelFunc
	done    chan error
	stopped bool // by the test, which checks what run returned
}

// noKeepAlive sends each request on a new connection, so that a service
// with a short idle timeout never closes one under a request.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

// serveInProcess runs `rmaledger serve --addr FREE ARGS...` (args name the
// data directory and whatever else the test sets; RMALEDGER_* variables are
// the test's, RMALEDGER_API_KEYS the agent's test key unless the test set
// it) until the test ends, and returns once it answers /healthz.
func serveInProcess(t *testing.T, args ...string) *served {
	t.Helper()
	if _, set := os.LookupEnv("RMALEDGER_API_KEYS"); !set {
		t.Setenv("RMALEDGER_API_KEYS", testAgentKey)
	}
	// serve sets the process's soft memory limit; give the tests theirs back.
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prevLimit) })

	s := &served{addr: freeAddr(t), output: &lockedBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	args = append([]string{"serve", "--addr", s.addr}, args...)
	go func() { s.done <- run(ctx, args, s.output) }()
	t.Cleanup(func() {
		checked := s.stopped
		if err := s.stop(); err != nil && !checked && !t.Failed() {
			t.Errorf("serve: %v\n%s", err, s.output)
		}
	})
	for deadline := time.Now().Add(startWithin); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("serve ended before it answered: %v\n%s", err, s.output)
		default:
		}
		if res, err := noKeepAlive.Get("http://" + s.addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
	}
	t.Fatalf("serve did not answer /healthz:\n%s", s.output)
	return nil
}

// startWithin is how long serveInProcess and waitReady wait for serve: a start takes
// a few seconds under -race, over twenty where other work shares a small machine's
// cores, and the wait ends as soon as serve answers.
const startWithin = time.Minute

// stop cancels serve (as SIGTERM does) and returns what run returned.
func (s *served) stop() error {
	s.stopped = true
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // a second stop answers the same
		return err
	case <-time.After(30 * time.Second):
		return errors.New("serve did not stop within 30s of its cancellation")
	}
}

// waitReady waits until /readyz answers 200.
func (s *served) waitReady(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(startWithin); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if code, _ := s.request(t, http.MethodGet, "/readyz", "", ""); code == http.StatusOK {
			return
		}
	}
	t.Fatalf("serve did not become ready:\n%s", s.output)
}

// request sends method path with body (JSON), authenticated with key
// unless it is empty, and returns the status and the decoded answer.
func (s *served) request(t *testing.T, method, path, key, body string, header ...string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := noKeepAlive.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m
}

// agentKey is the key of testAgentKey, which serveInProcess configures.
var agentKey = strings.TrimPrefix(testAgentKey, "agent:")

// register registers the test's claim as the agent and returns the answer.
func (s *served) register(t *testing.T) map[string]any {
	t.Helper()
	code, claim := s.request(t, http.MethodPost, "/v1/claims", agentKey, registration)
	if code != http.StatusCreated {
		t.Fatalf("register: %d %v\n%s", code, claim, s.output)
	}
	return claim
}
