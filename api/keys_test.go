package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// withKeysFile makes the test server follow a keys file at path, with the
// clock *now (nil: the real one).
func withKeysFile(t *testing.T, path string, now *time.Time) testOption {
	return func(w *testWiring) {
		prev := w.config
		w.config = func(c *Config) {
			if prev != nil {
				prev(c)
			}
			if err := c.Keys.UseFile(path, c.Logger); err != nil {
				t.Fatal(err)
			}
			if now != nil {
				c.Keys.now = func() time.Time { return *now }
			}
		}
	}
}

// as sends a request with a raw bearer key.
func (ts *testServer) as(secret, method, path string, body any) response {
	ts.t.Helper()
	return ts.do(method, path, "", body, "Authorization", "Bearer "+secret)
}

func TestKeysFileRevocationTakesEffectOnTheNextRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	ts := newTestServer(t, withKeysFile(t, path, nil))

	// Added while serving: accepted at once.
	secret, rec, err := AddKey(path, NewKey{Role: RoleAgent, Name: "desk-sofia-1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res := ts.as(secret, http.MethodPost, "/v1/claims", registerBody())
	if res.Code != http.StatusCreated {
		t.Fatalf("new key: %d %s", res.Code, res.Body)
	}
	id := res.json(t)["id"].(string)

	// The key's name, never the key, is the actor on the event.
	events := ts.do(http.MethodGet, "/v1/claims/"+id+"/events", RoleAuditor, nil)
	if !bytes.Contains(events.Body, []byte(`"actor":"desk-sofia-1"`)) || bytes.Contains(events.Body, []byte(secret)) {
		t.Errorf("events do not name the key's actor, or hold the key:\n%s", events.Body)
	}

	if _, err := RevokeKey(path, rec.Name, time.Now()); err != nil {
		t.Fatal(err)
	}
	res = ts.as(secret, http.MethodGet, "/v1/claims/"+id, nil)
	if res.Code != http.StatusUnauthorized || !strings.Contains(string(res.Body), "revoked") {
		t.Fatalf("revoked key on its next request: %d %s", res.Code, res.Body)
	}
	before := ts.eventCount()
	if res := ts.as(secret, http.MethodPost, "/v1/claims", registerBody()); res.Code != http.StatusUnauthorized {
		t.Fatalf("revoked key writes: %d", res.Code)
	}
	if ts.eventCount() != before {
		t.Error("a revoked key's request wrote an event")
	}
	// The keys given at start are unaffected (the history, unlike the
	// claim view, comes from the store: no wait for the read models).
	if res := ts.do(http.MethodGet, "/v1/claims/"+id+"/events", RoleAgent, nil); res.Code != http.StatusOK {
		t.Errorf("a fixed key after the revocation: %d", res.Code)
	}
}

func TestKeysFileExpiredKeyRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ts := newTestServer(t, withKeysFile(t, path, &now))
	secret, _, err := AddKey(path, NewKey{Role: RoleFinance, TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if res := ts.as(secret, http.MethodGet, "/v1/claims", nil); res.Code != http.StatusOK {
		t.Fatalf("fresh key: %d %s", res.Code, res.Body)
	}
	now = now.Add(time.Hour - time.Second)
	if res := ts.as(secret, http.MethodGet, "/v1/claims", nil); res.Code != http.StatusOK {
		t.Fatalf("a second before expiry: %d %s", res.Code, res.Body)
	}
	now = now.Add(time.Second)
	res := ts.as(secret, http.MethodGet, "/v1/claims", nil)
	if res.Code != http.StatusUnauthorized || !strings.Contains(string(res.Body), "expired") {
		t.Fatalf("expired key: %d %s", res.Code, res.Body)
	}
}

// A keys file that cannot be parsed accepts no key from it (a damaged
// revocation must not let a key back in) until it is fixed; the keys
// given at start keep working so that an operator can still act.
func TestKeysFileDamagedFailsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	secret, _, err := AddKey(path, NewKey{Role: RoleAgent}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, withKeysFile(t, path, nil))
	if res := ts.as(secret, http.MethodGet, "/v1/claims", nil); res.Code != http.StatusOK {
		t.Fatalf("before: %d", res.Code)
	}
	good, _ := os.ReadFile(path)
	if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if res := ts.as(secret, http.MethodGet, "/v1/claims", nil); res.Code != http.StatusUnauthorized {
		t.Errorf("key from a damaged file: %d", res.Code)
	}
	if res := ts.do(http.MethodGet, "/v1/claims", RoleAdmin, nil); res.Code != http.StatusOK {
		t.Errorf("fixed key beside a damaged file: %d", res.Code)
	}
	if err := writeFileAtomic(path, good); err != nil {
		t.Fatal(err)
	}
	if res := ts.as(secret, http.MethodGet, "/v1/claims", nil); res.Code != http.StatusOK {
		t.Errorf("after the repair: %d", res.Code)
	}

	// A damaged file at start is an error, not an empty key set.
	if err := os.WriteFile(path, []byte(`{"version":1,"keys":[{"name":"x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&Keys{}).UseFile(path, nil); err == nil {
		t.Error("UseFile accepted a file with a bad record")
	}
}

func TestKeysFileHoldsOnlyHashes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", KeyFileName)
	secret, rec, err := AddKey(path, NewKey{Role: RoleAdmin, Name: "ops@example", TTL: 24 * time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, keyPrefix) || len(secret) < 40 {
		t.Errorf("key %q: want %s and 256 bits", secret, keyPrefix)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte(strings.TrimPrefix(secret, keyPrefix))) {
		t.Fatal("the keys file holds the key itself")
	}
	h := sha256.Sum256([]byte(secret))
	if rec.SHA256 != hex.EncodeToString(h[:]) || !bytes.Contains(data, []byte(rec.SHA256)) {
		t.Error("the file does not hold the key's SHA-256")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("keys file mode %v, want 0600", info.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
	records, err := ReadKeyFile(path)
	if err != nil || len(records) != 1 || records[0].Name != "ops@example" || records[0].ExpiresAt == nil {
		t.Errorf("ReadKeyFile = %+v, %v", records, err)
	}
}

func TestKeysFileRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	now := time.Now()
	if _, _, err := AddKey(path, NewKey{Role: "owner"}, now); err == nil {
		t.Error("unknown role accepted")
	}
	for _, name := range []string{"", "-x", "a b", "x\ny", strings.Repeat("n", 65), "имя"} {
		if name == "" {
			continue // empty means the default name
		}
		if _, _, err := AddKey(path, NewKey{Role: RoleAgent, Name: name}, now); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, _, err := AddKey(path, NewKey{Role: RoleAgent, Name: "desk"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := RevokeKey(path, "desk", now); err != nil {
		t.Fatal(err)
	}
	// A name stays taken after its key is revoked: the ledger's actors
	// must each mean one key.
	if _, _, err := AddKey(path, NewKey{Role: RoleAgent, Name: "desk"}, now); err == nil {
		t.Error("a revoked key's name was reused")
	}
	// Revoking twice keeps the first time.
	first, _ := ReadKeyFile(path)
	again, err := RevokeKey(path, "desk", now.Add(time.Hour))
	if err != nil || !again.RevokedAt.Equal(*first[0].RevokedAt) {
		t.Errorf("second revocation: %v, %v", again.RevokedAt, err)
	}
	if _, err := RevokeKey(path, "nobody", now); !errors.Is(err, ErrNoSuchKey) {
		t.Errorf("revoke unknown: %v", err)
	}
	if got := first[0].State(now.Add(time.Second)); got != "revoked" {
		t.Errorf("state %q, want revoked", got)
	}
}

// Commands run at once must not lose each other's keys: the file is
// edited under a lock.
func TestKeysFileConcurrentAdds(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := AddKey(path, NewKey{Role: RoleTechnician, Name: fmt.Sprintf("bench-%d", i)}, time.Now())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	records, err := ReadKeyFile(path)
	if err != nil || len(records) != n {
		t.Fatalf("%d records (%v), want %d", len(records), err, n)
	}
}

// Requests check keys while a command revokes one: no data race, and once
// the revocation is written no request with the key succeeds.
func TestKeysFileConcurrentLookupsAndRevocation(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	secret, _, err := AddKey(path, NewKey{Role: RoleAgent, Name: "racer"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ks := &Keys{}
	if err := ks.UseFile(path, nil); err != nil {
		t.Fatal(err)
	}
	revoked := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-revoked:
					if _, ok := ks.Lookup(secret); ok {
						t.Error("a revoked key was accepted")
					}
					return
				default:
					ks.Lookup(secret)
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := RevokeKey(path, "racer", time.Now()); err != nil {
		t.Fatal(err)
	}
	close(revoked)
	wg.Wait()
}
