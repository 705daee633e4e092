package api

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// KeyFileName is the keys file's name in the data directory.
const KeyFileName = "api-keys.json"

// maxKeyFileBytes bounds the keys file: thousands of keys, not an
// accident that exhausts memory on every change.
const maxKeyFileBytes = 4 << 20

// keyFileVersion is the layout of the keys file this code reads and writes.
const keyFileVersion = 1

// KeyRecord is one API key in the keys file. The key itself is never
// stored: only its SHA-256, which is safe to keep for keys of 256 random
// bits (no dictionary to try, unlike a password, so no slow hash needed,
// and a lookup per request stays cheap).
type KeyRecord struct {
	// Name is the actor recorded on every event the key writes; it is
	// unique in the file for good, revoked keys included, so that a name in
	// the ledger always means one key.
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Organisation binds a partner's key to its organisation; absent for
	// the staff's keys.
	Organisation string     `json:"organisation,omitempty"`
	SHA256       string     `json:"sha256"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

// key is the record as Keys checks it.
func (r KeyRecord) key() Key {
	k := Key{Name: r.Name, Role: r.Role, Org: r.Organisation}
	hex.Decode(k.hash[:], []byte(r.SHA256)) // parseKeyFile checked the form
	if r.ExpiresAt != nil {
		k.expires = *r.ExpiresAt
	}
	if r.RevokedAt != nil {
		k.revoked = *r.RevokedAt
	}
	return k
}

// State says whether the key works at now: "active", "expired" or "revoked".
func (r KeyRecord) State(now time.Time) string {
	switch k := r.key(); {
	case !k.revoked.IsZero() && !now.Before(k.revoked):
		return "revoked"
	case !k.expires.IsZero() && !now.Before(k.expires):
		return "expired"
	}
	return "active"
}

// keyFile is the keys file's JSON.
type keyFile struct {
	Version int         `json:"version"`
	Keys    []KeyRecord `json:"keys"`
}

// keyNamePattern is what a key's name may be: it appears in events, logs
// and CSV exports, so plain characters only.
var keyNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// parseKeyFile reads and checks the keys file. Any bad record makes the
// whole file bad: the service then accepts no key from it (see UseFile),
// which is safer than guessing what a damaged line meant.
func parseKeyFile(data []byte) ([]KeyRecord, error) {
	var f keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a keys file: %w", err)
	}
	if f.Version != keyFileVersion {
		return nil, fmt.Errorf("keys file version %d, this build reads version %d", f.Version, keyFileVersion)
	}
	names, hashes := map[string]bool{}, map[string]bool{}
	for i, r := range f.Keys {
		var h [sha256.Size]byte
		n, err := hex.Decode(h[:], []byte(r.SHA256))
		switch {
		case !keyNamePattern.MatchString(r.Name):
			return nil, fmt.Errorf("key %d: name %q: want 1 to 64 letters, digits, '.', '_', '@' or '-'", i, r.Name)
		case names[r.Name]:
			return nil, fmt.Errorf("key %d: name %q appears twice", i, r.Name)
		case !KnownRole(r.Role):
			return nil, fmt.Errorf("key %q: unknown role %q", r.Name, r.Role)
		case CheckOrganisation(r.Role, r.Organisation) != nil:
			return nil, fmt.Errorf("key %q: %w", r.Name, CheckOrganisation(r.Role, r.Organisation))
		case err != nil || n != sha256.Size || len(r.SHA256) != 2*sha256.Size:
			return nil, fmt.Errorf("key %q: sha256 must be 64 hex digits", r.Name)
		case hashes[r.SHA256]:
			return nil, fmt.Errorf("key %q: the same key is listed twice", r.Name)
		case r.CreatedAt.IsZero():
			return nil, fmt.Errorf("key %q: created_at is missing", r.Name)
		}
		names[r.Name], hashes[r.SHA256] = true, true
	}
	return f.Keys, nil
}

// ReadKeyFile returns the records of the keys file at path; none when it
// does not exist.
func ReadKeyFile(path string) ([]KeyRecord, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	records, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return records, nil
}

// NewKey describes a key to add to the keys file.
type NewKey struct {
	Role Role
	// Organisation binds a partner's key to its organisation (required for
	// RolePartner, refused for the staff's roles).
	Organisation string
	// Name is the actor on the key's events (default: role and a
	// fingerprint, e.g. "agent-3f9a1c2e").
	Name string
	// TTL, when positive, makes the key expire that long after now.
	TTL time.Duration
}

// keyPrefix marks the keys this service makes, so that secret scanners and
// people can recognise one in a paste.
const keyPrefix = "rml_"

// AddKey makes a new random key, adds its hash to the keys file at path
// (created 0600 if missing) and returns the key: the only time it is ever
// shown. A running service accepts it from its next request on.
func AddKey(path string, nk NewKey, now time.Time) (secret string, rec KeyRecord, err error) {
	if !KnownRole(nk.Role) {
		return "", rec, fmt.Errorf("unknown role %q (roles: agent, technician, finance, auditor, admin, partner)", nk.Role)
	}
	if err := CheckOrganisation(nk.Role, nk.Organisation); err != nil {
		return "", rec, err
	}
	if nk.TTL < 0 {
		return "", rec, errors.New("a key's lifetime must not be negative")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", rec, err
	}
	secret = keyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	h := sha256.Sum256([]byte(secret))
	rec = KeyRecord{Name: nk.Name, Role: nk.Role, Organisation: nk.Organisation, SHA256: hex.EncodeToString(h[:]), CreatedAt: now.UTC().Truncate(time.Second)}
	if rec.Name == "" {
		rec.Name = defaultKeyName(nk.Role, h)
	}
	if !keyNamePattern.MatchString(rec.Name) {
		return "", rec, fmt.Errorf("key name %q: want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", rec.Name)
	}
	if nk.TTL > 0 {
		exp := now.Add(nk.TTL).UTC().Truncate(time.Second)
		rec.ExpiresAt = &exp
	}
	err = editKeyFile(path, func(records []KeyRecord) ([]KeyRecord, error) {
		for _, r := range records {
			if r.Name == rec.Name {
				return nil, fmt.Errorf("a key named %q exists already (%s); names are never reused, so that the ledger's actors stay unambiguous", r.Name, r.State(now))
			}
		}
		return append(records, rec), nil
	})
	if err != nil {
		return "", KeyRecord{}, err
	}
	return secret, rec, nil
}

// ErrNoSuchKey is returned by RevokeKey for a name the keys file lacks.
var ErrNoSuchKey = errors.New("no such key in the keys file")

// RevokeKey marks the named key revoked as of now. A running service
// refuses it from its next request on. Revoking a revoked key changes
// nothing and is not an error.
func RevokeKey(path, name string, now time.Time) (KeyRecord, error) {
	var out KeyRecord
	err := editKeyFile(path, func(records []KeyRecord) ([]KeyRecord, error) {
		for i, r := range records {
			if r.Name != name {
				continue
			}
			if r.RevokedAt == nil {
				at := now.UTC()
				records[i].RevokedAt = &at
			}
			out = records[i]
			return records, nil
		}
		return nil, fmt.Errorf("%w: %q", ErrNoSuchKey, name)
	})
	return out, err
}

// editKeyFile changes the keys file under an exclusive lock, so that two
// commands run at once do not lose each other's change, and replaces it
// atomically, so that the service never reads half a file.
func editKeyFile(path string, edit func([]KeyRecord) ([]KeyRecord, error)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	unlock, err := lockKeyFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("locking the keys file: %w", err)
	}
	defer unlock()
	records, err := ReadKeyFile(path)
	if err != nil {
		return err
	}
	if records, err = edit(records); err != nil {
		return err
	}
	if records == nil {
		records = []KeyRecord{}
	}
	data, err := json.MarshalIndent(keyFile{Version: keyFileVersion, Keys: records}, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, written, fsynced and renamed over path, then the directory
// fsynced so that the rename itself survives a crash. The file is 0600:
// hashes of keys are not secrets, but nobody but the service needs them.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
