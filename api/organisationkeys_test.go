package api

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPartnerKeys: a partner's key is bound to a well-formed organisation,
// which the keys file keeps and the key then acts for; a staff key belongs
// to none.
func TestPartnerKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, bad := range []NewKey{
		{Role: RolePartner},
		{Role: RolePartner, Organisation: "Acme Dealers"},
		{Role: RoleAgent, Organisation: "acme"},
	} {
		if _, _, err := AddKey(path, bad, now); err == nil {
			t.Errorf("AddKey(%+v) succeeded", bad)
		}
	}
	if recs, _ := ReadKeyFile(path); len(recs) != 0 {
		t.Errorf("refused keys were written: %+v", recs)
	}
	secret, rec, err := AddKey(path, NewKey{Role: RolePartner, Organisation: "acme", Name: "acme-portal"}, now)
	if err != nil || rec.Organisation != "acme" {
		t.Fatalf("AddKey: %+v, %v", rec, err)
	}
	ks := &Keys{now: func() time.Time { return now }}
	if err := ks.UseFile(path, nil); err != nil {
		t.Fatal(err)
	}
	k, ok := ks.Lookup(secret)
	if !ok || k.Role != RolePartner || k.Org != "acme" || k.Name != "acme-portal" {
		t.Errorf("the partner's key: %+v, %v", k, ok)
	}

	if _, err := parseKeyFile([]byte(`{"version":1,"keys":[{"name":"p","role":"partner","sha256":"` + strings.Repeat("ab", 32) + `","created_at":"2026-01-01T00:00:00Z"}]}`)); err == nil {
		t.Error("a partner key without organisation was read")
	}
	if _, err := ParseKeys("partner:a-long-enough-secret-key"); err == nil || !strings.Contains(err.Error(), "--org") {
		t.Errorf("a partner key from the environment: %v, want a pointer to keys add --org", err)
	}
	if err := (&Keys{}).AddPartner("", "a-long-enough-secret-key"); err == nil {
		t.Error("AddPartner without organisation succeeded")
	}
}
