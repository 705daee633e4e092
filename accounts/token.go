package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// The key that signs session tokens is one event in eventlog.ConsoleKeyStream,
// written by the first instance that needs it (expected revision NoStream)
// and read by every other, so a session signed by one instance verifies on all.

// keyEventType is the stored name of the key's event.
const keyEventType = "console.session_key.v1"

type keyEvent struct {
	Key []byte `json:"key"`
}

// sessionKey reads the shared signing key, creating it if there is none. Of
// two instances creating it at once, the loser's append fails on the
// expected revision and it reads the winner's.
func sessionKey(ctx context.Context, store eventstore.Store) ([]byte, error) {
	for range 2 {
		recs, err := store.ReadStream(ctx, eventlog.ConsoleKeyStream, eventstore.Forwards, 0, 1)
		if err == nil && len(recs) == 1 {
			var ev keyEvent
			if err := json.Unmarshal(recs[0].Data, &ev); err != nil || len(ev.Key) < 32 {
				return nil, fmt.Errorf("accounts: the session key in %s is malformed", eventlog.ConsoleKeyStream)
			}
			return ev.Key, nil
		}
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return nil, fmt.Errorf("accounts: read the session key: %w", err)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		data, _ := json.Marshal(keyEvent{Key: key})
		events := []eventstore.EventData{{ID: uuid.New(), Type: keyEventType, Data: data, Metadata: []byte(`{"actor":"rmaledger","role":"system"}`)}}
		if err := audit.SealEvents(eventlog.ConsoleKeyStream, nil, events); err != nil {
			return nil, err
		}
		_, err = store.Append(ctx, eventlog.ConsoleKeyStream, eventstore.NoStream, events...)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, eventstore.ErrWrongExpectedRevision) {
			return nil, fmt.Errorf("accounts: store the session key: %w", err)
		}
	}
	return nil, fmt.Errorf("accounts: %s neither holds nor accepts a key", eventlog.ConsoleKeyStream)
}

// tokenClaims is what a session token carries, signed.
type tokenClaims struct {
	Account uuid.UUID `json:"a"`
	Session string    `json:"s"`
	Issued  int64     `json:"i"` // unix seconds: the absolute limit runs from here
	Seen    int64     `json:"l"` // unix seconds: the idle limit runs from here
	Epoch   uint64    `json:"e"` // the account's epoch at sign-in
}

const tokenPrefix = "v1."

var b64 = base64.RawURLEncoding

// sign renders claims as "v1.<payload>.<HMAC-SHA256 of v1.<payload>>".
func sign(key []byte, c tokenClaims) string {
	payload, _ := json.Marshal(c)
	body := tokenPrefix + b64.EncodeToString(payload)
	return body + "." + b64.EncodeToString(mac(key, body))
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// parse checks a token's signature and returns its claims.
func parse(key []byte, token string) (tokenClaims, error) {
	var c tokenClaims
	if len(token) > 1024 || !strings.HasPrefix(token, tokenPrefix) {
		return c, ErrBadSession
	}
	dot := strings.LastIndexByte(token, '.')
	if dot <= len(tokenPrefix) {
		return c, ErrBadSession
	}
	sig, err := b64.DecodeString(token[dot+1:])
	if err != nil || !hmac.Equal(sig, mac(key, token[:dot])) {
		return c, ErrBadSession
	}
	payload, err := b64.DecodeString(token[len(tokenPrefix):dot])
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Session == "" {
		return c, ErrBadSession
	}
	return c, nil
}

// csrfToken is the form token of a session: bound to the session id, so a
// page of one session cannot be replayed in another, and derived from the
// shared key, so every instance checks it.
func csrfToken(key []byte, sessionID string) string {
	return b64.EncodeToString(mac(key, "csrf."+sessionID))
}

// newSessionID is 128 random bits.
func newSessionID() string {
	return rand.Text()
}
