package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// MinKeyLength is the shortest API key accepted: shorter keys can be guessed.
const MinKeyLength = 16

// Key is a configured API key, kept only as a hash.
type Key struct {
	// Name identifies the key in event metadata and logs; the key itself never appears.
	Name string
	Role Role
	// Org is the partner organisation a partner's key acts for; empty for
	// the staff's keys.
	Org  string
	hash [sha256.Size]byte
	// expires and revoked are set for keys from the keys file: the key
	// stops working at the earlier of the two (zero: never).
	expires, revoked time.Time
}

// Keys checks bearer tokens against the configured keys: those given at
// start (the environment, --dev) and, when UseFile was called, those in the
// keys file, which is re-read whenever it changes so that a key added,
// revoked or expired takes effect on the next request, without a restart.
type Keys struct {
	keys []Key // fixed at start: from ParseKeys and Add
	file *keyFileWatch
	// now is the clock expiry is judged by (time.Now when nil).
	now func() time.Time
}

// ParseKeys reads "role:key,role:key". Each key is named after its role and
// a short fingerprint of its hash, e.g. "agent-3f9a1c2e".
func ParseKeys(spec string) (*Keys, error) {
	ks := &Keys{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		role, secret, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("api key %q: want role:key", redact(item))
		}
		if Role(role) == RolePartner {
			return nil, errors.New("a partner's key is bound to an organisation: add it to the keys file with rmaledger keys add --role partner --org NAME")
		}
		if !slices.Contains(Roles(), Role(role)) {
			return nil, fmt.Errorf("api key for unknown role %q (roles: agent, technician, finance, auditor, admin)", role)
		}
		if len(secret) < MinKeyLength {
			return nil, fmt.Errorf("api key for role %s is shorter than %d characters", role, MinKeyLength)
		}
		if err := ks.Add(Role(role), secret); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// Add registers a key. Call it before serving: the fixed keys are not
// guarded against concurrent lookups (the keys file is the way to change
// keys while serving).
func (ks *Keys) Add(role Role, secret string) error {
	h := sha256.Sum256([]byte(secret))
	for _, k := range ks.keys {
		if k.hash == h {
			return fmt.Errorf("api key for role %s is configured twice", role)
		}
	}
	ks.keys = append(ks.keys, Key{Name: defaultKeyName(role, h), Role: role, hash: h})
	return nil
}

// AddPartner registers a partner organisation's key, like Add (tests and
// embedders; the keys file is the way to give partners keys).
func (ks *Keys) AddPartner(org, secret string) error {
	if err := CheckOrganisation(RolePartner, org); err != nil {
		return err
	}
	h := sha256.Sum256([]byte(secret))
	for _, k := range ks.keys {
		if k.hash == h {
			return fmt.Errorf("api key for organisation %s is configured twice", org)
		}
	}
	ks.keys = append(ks.keys, Key{Name: defaultKeyName(RolePartner, h), Role: RolePartner, Org: org, hash: h})
	return nil
}

// List returns the keys given at start: from ParseKeys and Add, not those
// of the keys file (ReadKeyFile lists them, with their times).
func (ks *Keys) List() []Key { return slices.Clone(ks.keys) }

// defaultKeyName is a key's name when nobody chose one: its role and the
// first 4 bytes of its hash, enough to tell keys apart in logs.
func defaultKeyName(role Role, h [sha256.Size]byte) string {
	return string(role) + "-" + hex.EncodeToString(h[:4])
}

// UseFile adds the keys in the keys file at path (see AddKey) and keeps
// following it: every lookup stats the file and re-reads it when its
// identity, size or modification time changed. A file that does not exist
// holds no keys (yet). A file that cannot be read or parsed is an error
// here; later, while serving, it disables every key from the file (failing
// closed, so that a revocation is never undone by a bad edit) and is logged
// to logger until it is fixed.
func (ks *Keys) UseFile(path string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	w := &keyFileWatch{path: path, logger: logger}
	w.mu.Lock()
	err := w.reload()
	w.mu.Unlock()
	if err != nil {
		return err
	}
	ks.file = w
	return nil
}

// Len is the number of keys that work now.
func (ks *Keys) Len() int {
	n := len(ks.keys)
	if ks.file != nil {
		now := ks.clock()
		for _, k := range ks.file.current() {
			if k.usable(now) {
				n++
			}
		}
	}
	return n
}

// Lookup finds the key a bearer token presents. Every configured key is
// compared in constant time, so timing tells nothing about which matched.
func (ks *Keys) Lookup(token string) (Key, bool) {
	k, failure := ks.check(token)
	return k, failure == ""
}

// The reasons an authentication fails, as the log of failed
// authentications records them.
const (
	failMissing   = "missing"   // no Authorization header
	failMalformed = "malformed" // not "Bearer <key>"
	failUnknown   = "unknown"   // no such key
	failRevoked   = "revoked"
	failExpired   = "expired"
)

// check finds the key a token presents and says why it may not be used,
// if it may not ("" when it may). A revoked or expired key is still
// returned, so that the log can name it.
func (ks *Keys) check(token string) (Key, string) {
	h := sha256.Sum256([]byte(token))
	var file []Key
	if ks.file != nil {
		file = ks.file.current()
	}
	var found Key
	matched := 0
	// The file's keys come last, so that a key revoked there is refused
	// even if the same key is also given in the environment.
	for _, set := range [][]Key{ks.keys, file} {
		for _, k := range set {
			// Every key is compared, whatever matched before; the hash of a
			// high-entropy key tells nothing, but the habit costs nothing.
			if subtle.ConstantTimeCompare(k.hash[:], h[:]) == 1 {
				found, matched = k, 1
			}
		}
	}
	if matched == 0 {
		return Key{}, failUnknown
	}
	now := ks.clock()
	switch {
	case !found.revoked.IsZero() && !now.Before(found.revoked):
		return found, failRevoked
	case !found.expires.IsZero() && !now.Before(found.expires):
		return found, failExpired
	}
	return found, ""
}

func (ks *Keys) clock() time.Time {
	if ks.now != nil {
		return ks.now()
	}
	return time.Now()
}

// usable reports whether the key works at now.
func (k Key) usable(now time.Time) bool {
	return (k.revoked.IsZero() || now.Before(k.revoked)) && (k.expires.IsZero() || now.Before(k.expires))
}

func redact(s string) string {
	if role, _, ok := strings.Cut(s, ":"); ok {
		return role + ":***"
	}
	return "***"
}

// keyFileWatch holds the keys of the keys file as last read, and what the
// file looked like then.
type keyFileWatch struct {
	path   string
	logger *slog.Logger

	mu     sync.RWMutex
	loaded os.FileInfo // the version the keys came from; nil: no file
	keys   []Key       // replaced, never modified, so readers may keep it
	broken bool        // the last read failed: no keys from the file
}

// current returns the file's keys, re-reading the file first if it has
// changed since the last read. One stat per request is the price of a
// revocation that takes effect at once; it is a few microseconds.
func (w *keyFileWatch) current() []Key {
	fi, statErr := os.Stat(w.path)
	w.mu.RLock()
	fresh := !w.broken && w.unchanged(fi, statErr)
	keys := w.keys
	w.mu.RUnlock()
	if fresh {
		return keys
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if fi, statErr = os.Stat(w.path); w.broken || !w.unchanged(fi, statErr) {
		if err := w.reload(); err != nil {
			w.logger.Error("the API keys file cannot be read: no key from it is accepted until it is fixed", "file", w.path, "error", err)
		}
	}
	return w.keys
}

// unchanged reports whether the file is the version last read. A rename
// of a new file over the old one (how AddKey and RevokeKey write) always
// changes the identity, whatever the clock's resolution.
func (w *keyFileWatch) unchanged(fi os.FileInfo, statErr error) bool {
	if statErr != nil {
		return w.loaded == nil && errors.Is(statErr, os.ErrNotExist)
	}
	return w.loaded != nil && os.SameFile(fi, w.loaded) && fi.Size() == w.loaded.Size() && fi.ModTime().Equal(w.loaded.ModTime())
}

// reload reads the file; w.mu must be held. On failure the file's keys are
// dropped: a file that cannot be read might be revoking one.
func (w *keyFileWatch) reload() error {
	keys, fi, err := readKeys(w.path)
	if err != nil {
		w.keys, w.loaded, w.broken = nil, nil, true
		return err
	}
	w.keys, w.loaded, w.broken = keys, fi, false
	return nil
}

// readKeys reads the keys file as keys, with the file's identity at the
// time of reading (from the open file, so that the two belong together).
// A file that does not exist is no keys.
func readKeys(path string) ([]Key, os.FileInfo, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxKeyFileBytes {
		return nil, nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeyFileBytes)
	}
	records, err := parseKeyFile(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	keys := make([]Key, len(records))
	for i, r := range records {
		keys[i] = r.key()
	}
	return keys, fi, nil
}
