package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

// Hash is a SHA-256 digest: an event's content hash, a link to the
// previous event, or the head of the ledger-wide chain.
type Hash [sha256.Size]byte

// Genesis is the prev_hash of every stream's first event and the head of
// the ledger-wide chain before its first event: 32 zero bytes.
var Genesis Hash

// String renders the hash as 64 lowercase hex digits, as stored.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText renders the hash as 64 lowercase hex digits.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads 64 hex digits (lowercase only: the stored form is
// lowercase, and accepting two spellings of one hash would make the
// canonical form ambiguous).
func (h *Hash) UnmarshalText(b []byte) error {
	p, ok := parseHex(b)
	if !ok {
		return fmt.Errorf("audit: %q is not a hash of 64 lowercase hex digits", b)
	}
	*h = p
	return nil
}

// ParseHash reads a hash written by String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// parseHex decodes exactly 64 lowercase hex digits without allocating.
// It runs for two hashes of every event verified, so it uses a table
// rather than branches: a branchy decoder was a third of the hashing time.
func parseHex(b []byte) (Hash, bool) {
	var h Hash
	if len(b) != 2*len(h) {
		return h, false
	}
	var bad byte
	for i := range h {
		hi, lo := hexValue[b[2*i]], hexValue[b[2*i+1]]
		bad |= hi | lo
		h[i] = hi<<4 | lo&0x0f
	}
	if bad&0xf0 != 0 {
		return Hash{}, false
	}
	return h, true
}

// hexValue maps '0'-'9' and 'a'-'f' to their values and every other byte
// to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	return t
}()

// Domain tags keep a content hash from ever being mistaken for a chain head
// or anything else hashed with SHA-256: the inputs differ from the first
// byte on.
const (
	contentTag = "rmaledger/event/v1"
	allTag     = "rmaledger/all/v1"
)

// The metadata suffix a sealed event ends with, in exactly this form:
//
//	,"content_hash":"<64 hex>","prev_hash":"<64 hex>"}
//
// (without the comma when the other fields are empty). Fixed offsets make
// reading the hashes back a slice operation instead of a JSON parse, which
// is most of why verification is fast.
const (
	contentKey = `"content_hash":"`
	prevKey    = `","prev_hash":"`
	closing    = `"}`
	// suffixLen is the length of the suffix without its leading comma.
	suffixLen = len(contentKey) + 64 + len(prevKey) + 64 + len(closing)
)

// Hasher computes content hashes. It keeps a buffer between calls, so one
// Hasher per goroutine makes hashing allocation-free; the zero value is
// ready to use.
type Hasher struct {
	buf []byte
}

// Content is the content hash of an event: SHA-256 over its canonical
// content, each field written as an 8-byte big-endian length followed by
// its bytes, in this order: the tag "rmaledger/event/v1", the stream name,
// the event type, the event ID (36 lowercase characters with hyphens), the
// data as stored, and the canonical metadata (see docs/audit.md). meta must
// already be canonical: the stored metadata of a sealed event minus its
// hash suffix (Split gives it).
func (h *Hasher) Content(stream, eventType string, id uuid.UUID, data, meta []byte) Hash {
	return h.content(stream, eventType, id, data, meta, false)
}

// content hashes the canonical content; with brace, the canonical metadata
// is meta followed by "}" (meta is then a sealed event's stored prefix),
// which spares copying the metadata just to close it.
func (h *Hasher) content(stream, eventType string, id uuid.UUID, data, meta []byte, brace bool) Hash {
	b := h.buf[:0]
	b = appendField(b, contentTag)
	b = appendField(b, stream)
	b = appendField(b, eventType)
	b = binary.BigEndian.AppendUint64(b, 36)
	b = appendUUID(b, id)
	b = appendField(b, data)
	if brace {
		b = binary.BigEndian.AppendUint64(b, uint64(len(meta)+1))
		b = append(append(b, meta...), '}')
	} else {
		b = appendField(b, meta)
	}
	h.buf = b
	return sha256.Sum256(b)
}

// Event computes a stored event's content hash and reads the hashes its
// metadata carries; sealed is false when the metadata carries none (then
// the whole metadata is the canonical metadata).
func (h *Hasher) Event(rec *eventstore.RecordedEvent) (content Hash, link Link, sealed bool) {
	prefix, link, sealed := splitPrefix(rec.Metadata)
	if !sealed {
		return h.content(rec.Stream, rec.Type, rec.ID, rec.Data, rec.Metadata, false), Link{}, false
	}
	return h.content(rec.Stream, rec.Type, rec.ID, rec.Data, prefix, true), link, true
}

// Link is what a sealed event's metadata says about the chain: its own
// content hash and its stream's previous event's.
type Link struct {
	Content Hash `json:"content_hash"`
	Prev    Hash `json:"prev_hash"`
}

// Split separates stored metadata into its canonical form and the hashes
// it carries. ok is false when the metadata does not end in the hash
// suffix in its exact form; then canonical is the metadata unchanged.
func Split(stored []byte) (canonical []byte, link Link, ok bool) {
	prefix, link, ok := splitPrefix(stored)
	if !ok {
		return stored, Link{}, false
	}
	canonical = make([]byte, 0, len(prefix)+1)
	canonical = append(append(canonical, prefix...), '}')
	return canonical, link, true
}

// splitPrefix returns the stored metadata before the hash suffix, with the
// separating comma removed (so canonical = prefix + "}"), and the hashes.
func splitPrefix(stored []byte) ([]byte, Link, bool) {
	n := len(stored)
	if n < suffixLen+1 {
		return nil, Link{}, false
	}
	suffix := stored[n-suffixLen:]
	if !bytes.HasPrefix(suffix, []byte(contentKey)) ||
		!bytes.Equal(suffix[len(contentKey)+64:len(contentKey)+64+len(prevKey)], []byte(prevKey)) ||
		!bytes.HasSuffix(suffix, []byte(closing)) {
		return nil, Link{}, false
	}
	var link Link
	var ok bool
	if link.Content, ok = parseHex(suffix[len(contentKey) : len(contentKey)+64]); !ok {
		return nil, Link{}, false
	}
	start := len(contentKey) + 64 + len(prevKey)
	if link.Prev, ok = parseHex(suffix[start : start+64]); !ok {
		return nil, Link{}, false
	}
	prefix := stored[:n-suffixLen]
	switch {
	case len(prefix) == 1 && prefix[0] == '{':
		return prefix, link, true // {"content_hash":...}: no other fields
	case len(prefix) >= 2 && prefix[0] == '{' && prefix[len(prefix)-1] == ',':
		return prefix[:len(prefix)-1], link, true
	}
	return nil, Link{}, false
}

// ErrNotObject means metadata to seal is not a JSON object as the ledger
// writes them ({...}, compact, without the hash fields).
var ErrNotObject = errors.New("audit: metadata to seal must be a compact JSON object without content_hash and prev_hash")

// Seal returns the metadata to store with an event: meta (a compact JSON
// object, "{}" or empty for none) with the content hash and prev appended
// as its last two members, and the content hash. Event after Seal reads
// back the same content hash and prev.
func Seal(h *Hasher, stream, eventType string, id uuid.UUID, data, meta []byte, prev Hash) ([]byte, Hash, error) {
	meta = bytes.TrimSpace(meta)
	if len(meta) == 0 {
		meta = []byte("{}")
	}
	if meta[0] != '{' || meta[len(meta)-1] != '}' || bytes.Contains(meta, []byte(`"content_hash"`)) || bytes.Contains(meta, []byte(`"prev_hash"`)) {
		return nil, Hash{}, ErrNotObject
	}
	content := h.Content(stream, eventType, id, data, meta)
	out := make([]byte, 0, len(meta)+1+suffixLen)
	out = append(out, meta[:len(meta)-1]...)
	if len(meta) > 2 {
		out = append(out, ',')
	}
	out = append(out, contentKey...)
	out = hex.AppendEncode(out, content[:])
	out = append(out, prevKey...)
	out = hex.AppendEncode(out, prev[:])
	out = append(out, closing...)
	return out, content, nil
}

// SealEvents seals events about to be appended to stream, chaining each to
// the one before: the first to prev (the stream's last stored event, nil
// for a new stream), the others to the event before them in the slice. The
// events' Metadata is replaced.
func SealEvents(stream string, prev *eventstore.RecordedEvent, events []eventstore.EventData) error {
	var h Hasher
	link := Genesis
	if prev != nil {
		link, _, _ = h.Event(prev)
	}
	for i := range events {
		e := &events[i]
		sealed, content, err := Seal(&h, stream, e.Type, e.ID, e.Data, e.Metadata, link)
		if err != nil {
			return fmt.Errorf("audit: seal %s event %d: %w", stream, i, err)
		}
		e.Metadata, link = sealed, content
	}
	return nil
}

// Chain is the ledger-wide chain over $all: a running hash of the content
// hashes of every event in $all order, except system events and the
// checkpoint stream's. The zero value is the chain before any event.
type Chain struct {
	// Head is SHA-256(tag || previous head || content hash) after the last
	// event added, Genesis before any.
	Head Hash
	// Count is how many events were added.
	Count uint64
	// Position is the $all position of the last event added.
	Position eventstore.Position
}

// Add extends the chain with an event's content hash.
func (c *Chain) Add(content Hash, pos eventstore.Position) {
	var b [len(allTag) + 2*sha256.Size]byte
	n := copy(b[:], allTag)
	n += copy(b[n:], c.Head[:])
	copy(b[n:], content[:])
	c.Head = sha256.Sum256(b[:])
	c.Count++
	c.Position = pos
}

func appendField[T string | []byte](b []byte, f T) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
	return append(b, f...)
}

// appendUUID writes the canonical 36-character form without allocating.
func appendUUID(b []byte, id uuid.UUID) []byte {
	const digits = "0123456789abcdef"
	for i, x := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[x>>4], digits[x&0x0f])
	}
	return b
}
