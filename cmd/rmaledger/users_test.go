package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

// usersCmd runs `rmaledger users ARGS...` against a data directory with
// stdin as its standard input (none: /dev/null) and returns its output
// (warnings and errors only from the log).
func usersCmd(t *testing.T, dataDir, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), append(append([]string{"users"}, args...), "--data-dir", dataDir, "--log-level", "warn")...)
	cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustUsers(t *testing.T, dataDir, stdin string, args ...string) string {
	t.Helper()
	out, err := usersCmd(t, dataDir, stdin, args...)
	if err != nil {
		t.Fatalf("users %v: %v\n%s", args, err, out)
	}
	return out
}

// withAccounts opens the data directory's store (the commands have exited)
// and hands f the accounts as the service would see them.
func withAccounts(t *testing.T, dataDir string, f func(*accounts.Directory, eventstore.Store)) {
	t.Helper()
	store, err := embedded.Open(dataDir, embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dir, err := openAccounts(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	f(dir, store)
}

// signIn tries a name and password on the data directory's accounts.
func signIn(t *testing.T, dataDir, name, password string) error {
	t.Helper()
	var err error
	withAccounts(t, dataDir, func(d *accounts.Directory, _ eventstore.Store) {
		_, err = d.SignIn(context.Background(), name, password, "127.0.0.1")
	})
	return err
}

var generatedPassword = regexp.MustCompile(`(?m)^password \(shown this once; only its hash is kept\):\n([A-Z2-7]{26})$`)

// TestUsersCommands adds, lists, disables, enables and resets accounts with
// the commands, and signs in with what they set.
func TestUsersCommands(t *testing.T) {
	dataDir := t.TempDir()

	out := mustUsers(t, dataDir, "a long piped password\n", "add", "--name", "maria", "--role", "technician")
	if !strings.Contains(out, "added maria (technician)") || strings.Contains(out, "a long piped password") {
		t.Fatalf("add with a piped password printed:\n%s", out)
	}
	out = mustUsers(t, dataDir, "", "add", "--name", "ivan", "--role", "agent")
	m := generatedPassword.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("add without a password printed no generated one:\n%s", out)
	}
	ivanPassword := m[1]

	for _, tc := range []struct {
		desc  string
		stdin string
		args  []string
		want  string
	}{
		{"a taken name in another case", "", []string{"add", "--name", "MARIA", "--role", "agent"}, "name is taken"},
		{"an unknown role", "", []string{"add", "--name", "petar", "--role", "clerk"}, `"clerk" is not one of agent, technician, finance, auditor, admin`},
		{"a short password", "short\n", []string{"add", "--name", "petar", "--role", "agent"}, "at least 12 characters"},
		{"no role", "", []string{"add", "--name", "petar"}, "--name and --role are required"},
		{"a name with a space", "", []string{"add", "--name", "petar petrov", "--role", "agent"}, "name: 1 to 64 letters"},
		{"disable nobody", "", []string{"disable", "nobody"}, "no such account"},
		{"reset nobody", "", []string{"reset-password", "nobody"}, "no such account"},
		{"disable without a name", "", []string{"disable"}, "which account?"},
		{"an unknown subcommand", "", []string{"remove", "maria"}, "usage: rmaledger users add"},
	} {
		out, err := usersCmd(t, dataDir, tc.stdin, tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v\n%s\nwant an error saying %q", tc.desc, err, out, tc.want)
		}
	}
	list := mustUsers(t, dataDir, "", "list")
	if !regexp.MustCompile(`(?m)^ivan\s+agent\s+active\s+-\s+\d{4}-`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^maria\s+technician\s+active\s`).MatchString(list) ||
		strings.Count(strings.TrimSpace(list), "\n") != 2 {
		t.Fatalf("list after the refusals:\n%s", list)
	}

	if err := signIn(t, dataDir, "maria", "a long piped password"); err != nil {
		t.Fatalf("maria with the piped password: %v", err)
	}
	if err := signIn(t, dataDir, "ivan", ivanPassword); err != nil {
		t.Fatalf("ivan with the printed password: %v", err)
	}

	mustUsers(t, dataDir, "", "disable", "ivan")
	if list := mustUsers(t, dataDir, "", "list"); !regexp.MustCompile(`(?m)^ivan\s+agent\s+disabled\s`).MatchString(list) {
		t.Fatalf("list after disable:\n%s", list)
	}
	if err := signIn(t, dataDir, "ivan", ivanPassword); !errors.Is(err, accounts.ErrDisabled) {
		t.Fatalf("a disabled account signs in: %v", err)
	}
	mustUsers(t, dataDir, "", "enable", "ivan")
	if err := signIn(t, dataDir, "ivan", ivanPassword); err != nil {
		t.Fatalf("enabled again: %v", err)
	}

	out = mustUsers(t, dataDir, "another long password\n", "reset-password", "maria")
	if !strings.Contains(out, "reset the password of maria") || generatedPassword.MatchString(out) {
		t.Fatalf("reset-password with a piped password printed:\n%s", out)
	}
	if err := signIn(t, dataDir, "maria", "a long piped password"); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("the old password after a reset: %v", err)
	}
	if err := signIn(t, dataDir, "maria", "another long password"); err != nil {
		t.Fatalf("the new password: %v", err)
	}

	// Every change names the operating-system user who ran the command.
	want := "cli:unknown"
	if u, err := user.Current(); err == nil {
		want = "cli:" + u.Username
	}
	withAccounts(t, dataDir, func(_ *accounts.Directory, store eventstore.Store) {
		recs, err := store.ReadAll(context.Background(), eventstore.Start, 100, eventstore.Filter{StreamPrefixes: []string{eventlog.Accounts.Prefix()}})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 5 {
			t.Errorf("%d account events, want 5 (two added, disabled, enabled, password changed; none for a refusal)", len(recs))
		}
		for _, r := range recs {
			if !strings.Contains(string(r.Metadata), `"actor":"`+want+`"`) {
				t.Errorf("%s by %s, want the actor %s", r.Type, r.Metadata, want)
			}
		}
	})
}

// TestUsersCommandsWhileServing: the embedded store admits one process, so
// the commands say plainly that the service must be stopped.
func TestUsersCommandsWhileServing(t *testing.T) {
	dataDir := t.TempDir()
	start(t, dataDir)
	out, err := usersCmd(t, dataDir, "", "list")
	if err == nil || !strings.Contains(out, "the service is running on this data directory; stop it first") {
		t.Fatalf("users list while serving: %v\n%s", err, out)
	}
}

// TestDevAccounts: serve --dev prints an account per role whose password
// signs in, and the same ones after a restart.
func TestDevAccounts(t *testing.T) {
	dataDir := t.TempDir()
	serveDev := func() string {
		cmd := exec.Command(buildBinary(t), "serve", "--dev", "--addr", freeAddr(t), "--data-dir", dataDir)
		cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(out.String(), "serving") {
			time.Sleep(50 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("serve --dev: %v\n%s", err, out)
		}
		return out.String()
	}
	first := serveDev()
	printed := regexp.MustCompile(`(?m)^  (dev-[a-z]+)\s+([A-Z2-7]{26})$`).FindAllStringSubmatch(first, -1)
	if len(printed) != len(roleNames()) {
		t.Fatalf("printed %d development accounts, want one per role, %d:\n%s", len(printed), len(roleNames()), first)
	}
	for _, p := range printed {
		if err := signIn(t, dataDir, p[1], p[2]); err != nil {
			t.Errorf("%s with its printed password: %v", p[1], err)
		}
	}
	info, err := os.Stat(filepath.Join(dataDir, devAccountsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the file of development accounts: %v, %v", info, err)
	}
	second := serveDev()
	for _, p := range printed {
		if !strings.Contains(second, p[1]+strings.Repeat(" ", 15-len(p[1])+1)+p[2]) {
			t.Errorf("the restart did not print %s with the same password:\n%s", p[1], second)
		}
	}
	list := mustUsers(t, dataDir, "", "list")
	for _, role := range roleNames() {
		if !regexp.MustCompile(`(?m)^dev-` + role + `\s+` + role + `\s+active`).MatchString(list) {
			t.Errorf("no dev-%s account of role %s:\n%s", role, role, list)
		}
	}

	// An auditor's export never carries the password hashes or the session key: those events
	// leave as hashes only, so the export still checks.
	export, err := exec.Command(buildBinary(t), "audit", "export", "--data-dir", dataDir).Output()
	if err != nil {
		t.Fatalf("audit export: %v", err)
	}
	for _, secret := range []string{"password_hash", "account.added", "console-keys", `\"key\"`} {
		if strings.Contains(string(export), secret) {
			t.Errorf("the audit export shows %s", secret)
		}
	}
	if !strings.Contains(string(export), `"kind":"hash"`) {
		t.Errorf("the audit export has no hash lines for the withheld events:\n%s", export)
	}
}

// TestREADMEUsers runs the README's block of users commands as written
// (with the built binary for `go run ./cmd/rmaledger`) in a new directory,
// then signs in with what it set.
func TestREADMEUsers(t *testing.T) {
	block := strings.ReplaceAll(readmeBlock(t, "users"), "go run ./cmd/rmaledger", buildBinary(t))
	workDir := t.TempDir()
	script := exec.Command("bash", "-euo", "pipefail", "-c", block)
	script.Dir = workDir
	script.Env = append(os.Environ(), "RMALEDGER_API_KEYS=", "RMALEDGER_LOG_LEVEL=warn")
	out, err := script.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's users block failed: %v\n%s", err, out)
	}
	generated := generatedPassword.FindAllStringSubmatch(string(out), -1)
	if len(generated) != 2 || !regexp.MustCompile(`(?m)^maria\.petrova\s+technician\s+active\s`).Match(out) ||
		!regexp.MustCompile(`(?m)^ivan\.ivanov\s+agent\s+active\s`).Match(out) {
		t.Fatalf("the block printed:\n%s", out)
	}
	dataDir := filepath.Join(workDir, "data")
	if err := signIn(t, dataDir, "maria.petrova", "a long password for Maria"); err != nil {
		t.Errorf("maria.petrova with the README's password: %v", err)
	}
	if err := signIn(t, dataDir, "ivan.ivanov", generated[0][1]); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Errorf("ivan.ivanov with the password the reset replaced: %v", err)
	}
	if err := signIn(t, dataDir, "ivan.ivanov", generated[1][1]); err != nil {
		t.Errorf("ivan.ivanov, disabled and enabled again, with the reset password: %v", err)
	}
}

// unreachable is an event store that cannot be reached.
type unreachable struct{ eventstore.Store }

func (unreachable) Append(context.Context, string, eventstore.ExpectedRevision, ...eventstore.EventData) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, eventstore.ErrUnavailable
}

func (unreachable) ReadAll(context.Context, eventstore.Position, int, eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	return nil, eventstore.ErrUnavailable
}

// TestDevAccountsWaitForTheStore: with --dev and a store not reachable yet
// the service still starts, saying the accounts are made at a later start.
func TestDevAccountsWaitForTheStore(t *testing.T) {
	dir, err := openAccounts(context.Background(), unreachable{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := devAccounts(context.Background(), config{Dev: true, DataDir: t.TempDir()}, dir, &out); err != nil {
		t.Fatalf("--dev with the store unreachable: %v", err)
	}
	if !strings.Contains(out.String(), "Development accounts not made") || strings.Contains(out.String(), "dev-agent ") {
		t.Fatalf("printed:\n%s", out.String())
	}
}

// TestDevAccountPasswordsAddsNewRoles: a data directory whose development
// accounts were written before a role existed gets that role's account,
// and keeps the others' passwords.
func TestDevAccountPasswordsAddsNewRoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), devAccountsFile)
	if err := os.WriteFile(path, []byte("dev-agent:kept-password-1\ndev-admin:kept-password-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pairs, fresh, err := devAccountPasswords(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != len(roleNames()) || fresh["dev-agent"] || fresh["dev-admin"] || !fresh["dev-partner"] || len(fresh) != len(roleNames())-2 {
		t.Fatalf("pairs %v, fresh %v", pairs, fresh)
	}
	if !slices.Contains(pairs, "dev-agent:kept-password-1") {
		t.Errorf("the agent's password changed: %v", pairs)
	}
	again, fresh, err := devAccountPasswords(path)
	if err != nil || len(fresh) != 0 || !slices.Equal(again, pairs) {
		t.Fatalf("read again: %v %v %v", again, fresh, err)
	}
}
