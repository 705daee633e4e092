package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api/statuspage"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// The fuzz targets of the request decoders. `go test` runs their seed
// corpora (testdata/fuzz/<target>/ and the f.Add calls); `make test` fuzzes
// each for a few seconds and `make fuzz` for longer. Each checks that a
// refusal is a client error the problem mapping knows (never a 500, never
// a panic) and, where it can, a property of what was accepted.

// checkRefusal fails unless err is a precise client error.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	p := problemFor(err)
	if p.Status < 400 || p.Status >= 500 || p.Type == problemType("internal") {
		t.Fatalf("refusal mapped to %d %s: %v", p.Status, p.Type, err)
	}
}

// FuzzDecodeRegister drives the registration body's decoder and the
// command's validation.
func FuzzDecodeRegister(f *testing.F) {
	valid, _ := json.Marshal(registerBody())
	f.Add(valid)
	f.Add([]byte(`{"customer":{"name":"A","phone":"+359888123456","name":"B"}}`))
	f.Add([]byte(`{"defect":"\ud800","price":{"amount":"1.00","currency":"EUR"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var cmd domain.RegisterClaim
		if err := decodeBody(body, &cmd); err != nil {
			checkRefusal(t, err)
			return
		}
		if err := cmd.Validate(); err != nil {
			checkRefusal(t, err)
		}
	})
}

// FuzzDecodeAction drives every action's body decoder (the action's name
// is part of the input; seeds hold a body for each) and, for a name that is
// no action, the decoder with an empty target as POST /v1/audit/checkpoints
// uses it.
func FuzzDecodeAction(f *testing.F) {
	for _, a := range domain.Actions() {
		f.Add(string(a), []byte(`{}`))
	}
	f.Add("add-note", []byte(`{"text":"call back","visibility":"internal"}`))
	f.Add("audit-checkpoint", []byte(`{}`))
	f.Fuzz(func(t *testing.T, action string, body []byte) {
		var target any = &struct{}{}
		var cmd domain.Command
		if a, ok := domain.ParseAction(action); ok {
			if c, ok := domain.NewCommand(a); ok {
				target, cmd = c, c
			}
		}
		if err := decodeBody(body, target); err != nil {
			checkRefusal(t, err)
			return
		}
		if cmd != nil {
			if err := cmd.Validate(); err != nil {
				checkRefusal(t, err)
			}
		}
	})
}

// TestActionSeedsDecode reads the committed seed of every action (its
// sample command as encoding/json writes it) and decodes it as the API
// does: each must be accepted and valid. It keeps the seeds meaningful and
// checks that the strict decoder takes everything the commands' own
// encoding produces.
func TestActionSeedsDecode(t *testing.T) {
	seen := map[domain.Action]bool{}
	files, _ := filepath.Glob("testdata/fuzz/FuzzDecodeAction/seed-*")
	for _, file := range files {
		args := readCorpusFile(t, file)
		if len(args) != 2 {
			t.Fatalf("%s: %d values, want 2", file, len(args))
		}
		a, ok := domain.ParseAction(args[0])
		if !ok {
			continue
		}
		cmd, _ := domain.NewCommand(a)
		if err := decodeBody([]byte(args[1]), cmd); err != nil {
			t.Errorf("%s: %v", a, err)
			continue
		}
		if err := cmd.Validate(); err != nil {
			t.Errorf("%s: %v", a, err)
		}
		seen[a] = true
	}
	for _, a := range domain.Actions() {
		if !seen[a] {
			t.Errorf("no seed for action %s in testdata/fuzz/FuzzDecodeAction", a)
		}
	}
}

// readCorpusFile reads the string and []byte values of a Go fuzz corpus file.
func readCorpusFile(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a corpus file", path)
	}
	var out []string
	for _, line := range lines[1:] {
		_, lit, ok := strings.Cut(line, "(")
		if !ok || !strings.HasSuffix(lit, ")") {
			t.Fatalf("%s: line %q", path, line)
		}
		v, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out = append(out, v)
	}
	return out
}

// FuzzCheckJSON holds checkJSON to its promise: whatever it lets through
// is one JSON value, in UTF-8, that encoding/json also reads. Numbers are
// read as json.Number: whether 1e400 fits is a question for the field it
// lands in (decodeProblem answers it), not for the body's syntax.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":null}]}`, `{"a":1,"a":2}`, `[[[[]]]]`, `"x" 1`, "{\"\xff\":1}", `{"a":"\udc00"}`, `{"a":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := checkJSON(body); err != nil {
			checkRefusal(t, err)
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("checkJSON accepted what encoding/json refuses: %v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("checkJSON accepted data after the value: %v", err)
		}
	})
}

// FuzzSearchParams drives GET /v1/claims's query parser.
func FuzzSearchParams(f *testing.F) {
	for _, q := range []string{
		"", "number=RMA-2026-000001", "phone=%2B359888123456&status=authorized,in_transit&limit=20",
		"serial=SN-0042", "updated_since=2026-11-01T00:00:00Z", "limit=0", "status=nope", "colour=red", "limit=1&limit=2",
		"email=maria@example.com&cursor=abc&min_position=42",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		values, err := url.ParseQuery(raw)
		if err != nil {
			return // echo would have parsed what it could; the parser sees url.Values
		}
		q, err := parseSearch(values)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		if q.Limit < 0 || q.Limit > projections.MaxSearchLimit {
			t.Fatalf("limit %d accepted", q.Limit)
		}
	})
}

// FuzzMinPosition drives the min_position parser: whatever it accepts
// reads back as itself.
func FuzzMinPosition(f *testing.F) {
	for _, s := range []string{"0", "1", "42", "18446744073709551615", "-1", "1e3", " 7", "0x10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		pos, err := eventstore.ParsePosition(raw)
		if err != nil {
			return
		}
		again, err := eventstore.ParsePosition(pos.String())
		if err != nil || again != pos {
			t.Fatalf("%q read as %v, which reads back as %v (%v)", raw, pos, again, err)
		}
	})
}

// fuzzReadRoutes are the read routes FuzzReadQueries sends query strings
// to; {id} is a claim that exists.
var fuzzReadRoutes = []string{
	"/v1/claims", "/v1/claims/{id}", "/v1/claims/{id}/events", "/v1/claims/{id}/history", "/v1/claims/{id}/state",
	"/v1/finance/compensations", "/v1/finance/reconciliation", "/v1/audit/trail", "/v1/audit/verify", "/v1/audit/export",
	"/v1/sla/timers", "/v1/admin/projections", "/v1/status",
}

// FuzzReadQueries sends query strings to every read route, through the
// whole server over a real store: search, pages and their cursors,
// min_position, periods, positions. Nothing may answer 500, and every
// refusal is problem+json.
func FuzzReadQueries(f *testing.F) {
	e, id, cursors := fuzzServer(f)
	for i := range fuzzReadRoutes {
		f.Add(uint8(i), "")
		f.Add(uint8(i), "min_position=1")
		f.Add(uint8(i), "limit=1&cursor="+url.QueryEscape(cursors[i%len(cursors)]))
	}
	f.Add(uint8(0), "phone=%2B359888123456&status=registered,authorized&limit=1")
	f.Add(uint8(5), "from=2026-01-01&to=2026-12-31&currency=EUR")
	f.Add(uint8(12), "number=RMA-2026-000001&phone=%2B79161234567")
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		path := strings.ReplaceAll(fuzzReadRoutes[int(route)%len(fuzzReadRoutes)], "{id}", id)
		target := path
		if query != "" {
			target += "?" + query
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // no client could send it
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL, req.RequestURI = u, u.RequestURI()
		req.Header.Set("Authorization", "Bearer "+fuzzAdminKey)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("GET %s: %d\n%s", target, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("GET %s: %d as %q", target, rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}

const fuzzAdminKey = "fuzz-admin-key-0123456789"

// fuzzServer is the API over a real embedded store with a few claims, for
// a fuzz target: newTestServer wants a *testing.T. It returns the handler,
// a claim's id and next_cursor values the list routes gave, as seeds.
func fuzzServer(f *testing.F) (*echo.Echo, string, []string) {
	f.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := f.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	reads, err := projections.New(store, projections.Config{Dir: dir, Logger: logger})
	if err != nil {
		f.Fatal(err)
	}
	if err := reads.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { reads.Close() })
	service, err := ledger.New(store, ledger.Config{})
	if err != nil {
		f.Fatal(err)
	}
	keys := &Keys{}
	if err := keys.Add(RoleAdmin, fuzzAdminKey); err != nil {
		f.Fatal(err)
	}
	e, err := New(Config{
		Ledger: service, Reads: reads, Keys: keys, Logger: logger, ReadYourWritesTimeout: 5 * time.Millisecond,
		AuthFailures: NoAuthLimit, StatusPage: statuspage.Config{PerClient: statuspage.Unlimited, PerNumber: statuspage.Unlimited},
	})
	if err != nil {
		f.Fatal(err)
	}
	send := func(method, target string, body any) (int, map[string]any) {
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = strings.NewReader(string(b))
		}
		req := httptest.NewRequest(method, target, r)
		req.Header.Set("Authorization", "Bearer "+fuzzAdminKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return rec.Code, m
	}
	var id, position string
	for range 3 {
		code, m := send(http.MethodPost, "/v1/claims", registerBody())
		if code != http.StatusCreated {
			f.Fatalf("register: %d %v", code, m)
		}
		id, position = m["id"].(string), m["position"].(string)
	}
	cursors := []string{"x"}
	for _, path := range []string{"/v1/claims", "/v1/audit/trail", "/v1/sla/timers", "/v1/finance/compensations"} {
		// The read models catch up in the background: ask until they have.
		for range 100 {
			code, m := send(http.MethodGet, path+"?limit=1&min_position="+position, nil)
			if c, ok := m["next_cursor"].(string); ok {
				cursors = append(cursors, c)
			}
			if code != http.StatusServiceUnavailable {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(cursors) < 2 {
		f.Fatal(errors.New("no list route answered a next_cursor to seed with"))
	}
	return e, id, cursors
}
