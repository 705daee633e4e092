package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/eventstore"
)

// postAs sends POST path with a JSON body and a bearer key.
func (p *process) postAs(t *testing.T, key, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	return p.send(t, req)
}

// lastLine is the last line of a command's output: the key keys add prints.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// TestPartnerKeysCommands: `keys add --role partner --org` makes a key of
// that organisation, which a running service takes at once: it registers
// claims for its organisation, and another organisation's key finds no
// such claim. A partner key without --org, or a staff key with one, is
// refused.
func TestPartnerKeysCommands(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, dataDir)
	if out, err := keysCmdErr(t, dataDir, "add", "--role", "partner"); err == nil || !strings.Contains(out, "--org") {
		t.Errorf("a partner key without --org: %v\n%s", err, out)
	}
	if out, err := keysCmdErr(t, dataDir, "add", "--role", "agent", "--org", "acme"); err == nil {
		t.Errorf("a staff key with --org was added:\n%s", out)
	}
	acmeOut := keysCmd(t, dataDir, "add", "--role", "partner", "--org", "acme", "--name", "acme-portal")
	if !strings.Contains(acmeOut, "org:     acme") {
		t.Errorf("keys add printed:\n%s", acmeOut)
	}
	acme := lastLine(acmeOut)
	globex := lastLine(keysCmd(t, dataDir, "add", "--role", "partner", "--org", "globex"))
	if list := keysCmd(t, dataDir, "list"); !strings.Contains(list, "acme-portal") || !strings.Contains(list, "acme\n") {
		t.Errorf("keys list does not show acme-portal's organisation:\n%s", list)
	}

	code, claim := p.postAs(t, acme, "/v1/claims", registration)
	if code != http.StatusCreated || claim["organisation"] != "acme" {
		t.Fatalf("acme registers: %d %v\n%s", code, claim, p.output)
	}
	id := claim["id"].(string)
	if code := p.getAs(t, globex, "/v1/claims/"+id+"/events"); code != http.StatusNotFound {
		t.Errorf("globex reads acme's claim: %d, want 404", code)
	}
	if code := p.getAs(t, acme, "/v1/claims/"+id+"/events"); code != http.StatusOK {
		t.Errorf("acme reads its claim: %d", code)
	}
	if code := p.getAs(t, acme, "/v1/audit/trail"); code != http.StatusForbidden {
		t.Errorf("a partner reads the audit trail: %d, want 403", code)
	}
}

// TestPartnerUsersCommands: `users add --role partner --org` makes an
// account of that organisation, which users list shows; a partner without
// --org is refused and written nowhere.
func TestPartnerUsersCommands(t *testing.T) {
	dataDir := t.TempDir()
	if out, err := usersCmd(t, dataDir, "", "add", "--name", "dana", "--role", "partner"); err == nil || !strings.Contains(out, "--org") {
		t.Errorf("a partner account without --org: %v\n%s", err, out)
	}
	if out, err := usersCmd(t, dataDir, "", "add", "--name", "ivan", "--role", "technician", "--org", "acme"); err == nil {
		t.Errorf("a technician of an organisation was added:\n%s", out)
	}
	out := mustUsers(t, dataDir, "", "add", "--name", "dana", "--role", "partner", "--org", "acme")
	if !strings.Contains(out, "added dana (partner of acme)") {
		t.Errorf("users add printed:\n%s", out)
	}
	list := mustUsers(t, dataDir, "", "list")
	if !strings.Contains(list, "dana") || !strings.Contains(list, "acme") || strings.Contains(list, "ivan") {
		t.Errorf("users list:\n%s", list)
	}
	withAccounts(t, dataDir, func(d *accounts.Directory, _ eventstore.Store) {
		acc, err := d.Get(context.Background(), "dana")
		if err != nil || acc.Organisation != "acme" || acc.Role != "partner" {
			t.Errorf("dana as the service reads her: %+v, %v", acc, err)
		}
	})
}
