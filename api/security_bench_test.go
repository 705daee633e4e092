package api

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
)

// BenchmarkKeysLookup is the cost authentication adds to a request: the
// hash, the constant-time comparisons and, with a keys file, the stat that
// makes a revocation take effect on the next request.
func BenchmarkKeysLookup(b *testing.B) {
	fixed, err := ParseKeys("agent:bench-agent-key-0123456789,admin:bench-admin-key-0123456789")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("environment keys", func(b *testing.B) {
		for b.Loop() {
			if _, ok := fixed.Lookup("bench-admin-key-0123456789"); !ok {
				b.Fatal("not found")
			}
		}
	})
	path := filepath.Join(b.TempDir(), KeyFileName)
	var secret string
	for range 50 {
		if secret, _, err = AddKey(path, NewKey{Role: RoleAgent}, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	withFile, _ := ParseKeys("agent:bench-agent-key-0123456789")
	if err := withFile.UseFile(path, nil); err != nil {
		b.Fatal(err)
	}
	b.Run("keys file of 50", func(b *testing.B) {
		for b.Loop() {
			if _, ok := withFile.Lookup(secret); !ok {
				b.Fatal("not found")
			}
		}
	})
}

// BenchmarkDecodeRegister compares the strict decoder with what it
// replaced (encoding/json with DisallowUnknownFields), on a registration.
func BenchmarkDecodeRegister(b *testing.B) {
	body, _ := json.Marshal(registerBody())
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var cmd domain.RegisterClaim
			if err := decodeBody(body, &cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var cmd domain.RegisterClaim
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
}
