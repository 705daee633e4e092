package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// ownFlags are the flags each command takes, as its usage must list them;
// serve's are the settings serveSettings names.
var ownFlags = map[string][]string{
	"projections":  {"data-dir", "eventstore-url", "log-level", "log-format", "policy-file", "key-store-file"},
	"backup":       {"data-dir", "eventstore-url", "files-s3-endpoint", "files-s3-bucket", "files-s3-prefix", "files-s3-region", "files-s3-access-key", "files-s3-secret-key"},
	"backup-keys":  {"data-dir", "key-store-file"},
	"restore":      {"data-dir", "eventstore-url", "key-store-file", "files-s3-endpoint", "files-s3-bucket", "files-s3-prefix", "files-s3-region", "files-s3-access-key", "files-s3-secret-key"},
	"restore-keys": {"data-dir", "key-store-file"},
	"keys":         {"data-dir", "api-keys", "api-keys-file", "signing-key-file", "role", "org", "name", "expires"},
	"users":        {"data-dir", "eventstore-url", "log-level", "log-format", "role", "org", "name"},
	"audit": {"data-dir", "eventstore-url", "log-level", "log-format", "signing-key-file", "public-key", "key-store-file", "policy-file",
		"files-s3-endpoint", "files-s3-bucket", "files-s3-prefix", "files-s3-region", "files-s3-access-key", "files-s3-secret-key",
		"documents-dir", "company-name", "company-address", "public-url", "claim", "from", "to"},
	"policy": {"data-dir", "eventstore-url", "log-level", "log-format", "policy-file", "policy", "since", "json"},
	"clock":  {"addr", "data-dir", "admin-key"},
}

func init() {
	var serve []string
	for _, s := range serveSettings {
		serve = append(serve, strings.TrimPrefix(s.flag[0], "--"))
	}
	ownFlags["serve"] = serve
}

// rmaledgerExit runs the binary and returns its stdout, stderr and exit code.
func rmaledgerExit(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// oneLine is text with its lines joined by single spaces.
func oneLine(text string) string { return strings.Join(strings.Fields(text), " ") }

// listedFlags are the flags a usage text lists, one "  --name" a line.
func listedFlags(usage string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`).FindAllStringSubmatch(usage, -1) {
		if m[1] != "help" {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return names
}

// TestEveryCommandHasItsOwnHelp: each command's --help exits 0 and shows
// its usage, an example, its exit codes and exactly its own flags: none of
// another command's (serve --help has no --claim or --role, users --help
// no --smtp-host); rmaledger help COMMAND shows the same text.
func TestEveryCommandHasItsOwnHelp(t *testing.T) {
	for _, c := range subcommands {
		t.Run(c.name, func(t *testing.T) {
			want, ok := ownFlags[c.name]
			if !ok {
				t.Fatalf("command %s has no row in ownFlags", c.name)
			}
			want = slices.Sorted(slices.Values(want))
			out, errOut, code := rmaledgerExit(t, c.name, "--help")
			if code != 0 || errOut != "" {
				t.Fatalf("%s --help exited %d: %s", c.name, code, errOut)
			}
			if got := listedFlags(out); !slices.Equal(got, want) {
				t.Errorf("%s --help lists the flags\n%v\nwant\n%v\n%s", c.name, got, want, out)
			}
			for _, part := range []string{"Usage: rmaledger " + c.name, "Exit codes: 0 done; 1 failed", "2 the command line is wrong"} {
				if !strings.Contains(oneLine(out), part) {
					t.Errorf("%s --help lacks %q:\n%s", c.name, part, out)
				}
			}
			if !regexp.MustCompile(`Examples:\n  .*rmaledger ` + c.name + ` `).MatchString(out) {
				t.Errorf("%s --help gives no example:\n%s", c.name, out)
			}
			if help, _, code := rmaledgerExit(t, "help", c.name); code != 0 || help != out {
				t.Errorf("help %s (exit %d) differs from %s --help:\n%s", c.name, code, c.name, help)
			}
		})
	}
	out, _, _ := rmaledgerExit(t, "serve", "--help")
	for _, foreign := range []string{"--claim", "--role", "--org", "--from", "--to", "--policy ", "--since", "--json", "--admin-key", "--expires"} {
		if strings.Contains(out, foreign) {
			t.Errorf("serve --help shows %s:\n%s", foreign, out)
		}
	}
	out, _, _ = rmaledgerExit(t, "users", "add", "--help")
	if strings.Contains(out, "--smtp-host") || !strings.Contains(out, "--role") {
		t.Errorf("users add --help:\n%s", out)
	}
	audit, _, _ := rmaledgerExit(t, "audit", "--help")
	if !strings.Contains(oneLine(audit), "1 also when verify or check finds the chain broken") {
		t.Errorf("audit --help does not say what exit 1 means for it:\n%s", audit)
	}
}

// TestHelpListsEveryCommand: rmaledger help (and --help) lists every
// command with its summary and exits 0; --version prints the version.
func TestHelpListsEveryCommand(t *testing.T) {
	names := []string{"serve", "projections", "backup", "backup-keys", "restore", "restore-keys", "keys", "users", "audit", "policy", "clock"}
	if len(names) != len(subcommands) {
		t.Errorf("the commands are %s, the test knows %v", commandNames(), names)
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out, errOut, code := rmaledgerExit(t, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("%v exited %d: %s", args, code, errOut)
		}
		for _, name := range names {
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` +\S`).MatchString(out) {
				t.Errorf("%v does not list %s:\n%s", args, name, out)
			}
		}
		if !strings.Contains(out, "Exit codes: 0 done") {
			t.Errorf("%v does not give the exit codes:\n%s", args, out)
		}
	}
	if out, _, code := rmaledgerExit(t, "--version"); code != 0 || out != "rmaledger dev\n" {
		t.Errorf("--version exited %d: %q", code, out)
	}
}

// TestWrongCommandLinesExit2: an unknown flag, command or word, or a
// missing one, exits 2 with a message that names it, and does nothing.
func TestWrongCommandLinesExit2(t *testing.T) {
	dir := t.TempDir()
	for _, c := range subcommands {
		_, errOut, code := rmaledgerExit(t, c.name, "--no-such-flag", "--data-dir", dir)
		if code != 2 || !strings.Contains(errOut, "unknown flag --no-such-flag") || !strings.Contains(errOut, c.name+" --help") {
			t.Errorf("%s --no-such-flag exited %d: %s", c.name, code, errOut)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--claim", "x"}, "unknown flag --claim"},
		{[]string{"--claim", "x"}, "serve: unknown flag --claim"}, // flags first: the command is serve
		{[]string{"users", "add", "--name", "maria", "--role", "agent", "--smtp-host", "smtp.example.com"}, "unknown flag --smtp-host"},
		{[]string{"serve", "--max-in-flight", "many"}, "max-in-flight"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"users", "remove", "maria"}, "usage: rmaledger users add"},
		{[]string{"users", "add", "--name", "maria"}, "--name and --role are required"},
		{[]string{"keys", "add"}, "--role is required"},
		{[]string{"backup"}, "usage: rmaledger backup DIR"},
		{[]string{"projections", "refresh"}, "usage: rmaledger projections"},
		{[]string{"policy", "whatif"}, "--policy names the candidate"},
		{[]string{"clock", "rewind"}, "usage: rmaledger clock"},
	} {
		out, errOut, code := rmaledgerExit(t, append(tc.args, "--data-dir", dir)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v exited %d, want 2 and %q: %s%s", tc.args, code, tc.want, out, errOut)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("wrong command lines wrote into the data directory: %v", entries)
	}
}

// TestCommandsReadTheirVariables: a tool command reads its options from
// RMALEDGER_* variables, a flag wins over one, and a variable of another
// command's option changes nothing.
func TestCommandsReadTheirVariables(t *testing.T) {
	dir := t.TempDir()
	fromEnv, fromFlag := filepath.Join(dir, "env"), filepath.Join(dir, "flag")
	t.Setenv("RMALEDGER_DATA_DIR", fromEnv)
	t.Setenv("RMALEDGER_KEYS_ROLE", "auditor")
	t.Setenv("RMALEDGER_SMTP_PORT", "not a port") // serve's alone: keys never reads it
	if out, err := runInProcess(t, "keys", "add", "--name", "from-env"); err != nil {
		t.Fatalf("keys add from the variables: %v\n%s", err, out)
	} else if !strings.Contains(out, "role:    auditor") || !strings.Contains(out, filepath.Join(fromEnv, "api-keys.json")) {
		t.Errorf("keys add did not take RMALEDGER_DATA_DIR and RMALEDGER_KEYS_ROLE:\n%s", out)
	}
	if out, err := runInProcess(t, "keys", "add", "--name", "from-flag", "--role", "finance", "--data-dir", fromFlag); err != nil {
		t.Fatalf("keys add with flags: %v\n%s", err, out)
	} else if !strings.Contains(out, "role:    finance") || !strings.Contains(out, filepath.Join(fromFlag, "api-keys.json")) {
		t.Errorf("the flags did not win over the variables:\n%s", out)
	}
	// serve reads the same variable and refuses its value.
	if _, err := runInProcess(t, "serve", "--data-dir", filepath.Join(dir, "serve")); err == nil || !strings.Contains(err.Error(), "RMALEDGER_SMTP_PORT") || exitCode(err) != exitUsage {
		t.Errorf("serve with RMALEDGER_SMTP_PORT=%q: %v", "not a port", err)
	}
}

// TestServeVerifiesAFormerSigningKey: after the signing key is rotated,
// the service reports the checkpoints the former key signed as a break,
// unless --public-key names that key.
func TestServeVerifiesAFormerSigningKey(t *testing.T) {
	dir := t.TempDir()
	const adminKey = "admin-key-for-rotation-test"
	t.Setenv("RMALEDGER_API_KEYS", testAgentKey+",admin:"+adminKey)
	former, current := filepath.Join(dir, "former.pem"), filepath.Join(dir, "current.pem")
	for _, key := range []string{former, current} {
		if out, err := runInProcess(t, "keys", "generate", key, "--data-dir", dir); err != nil {
			t.Fatalf("keys generate: %v\n%s", err, out)
		}
	}
	data := filepath.Join(dir, "data")
	s := serveInProcess(t, "--data-dir", data, "--signing-key-file", former, "--checkpoint-interval", "0")
	s.register(t)
	if code, got := s.request(t, http.MethodPost, "/v1/audit/checkpoints", adminKey, ""); code != http.StatusCreated {
		t.Fatalf("checkpoint: %d %v", code, got)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	verified := func(args ...string) bool {
		t.Helper()
		s := serveInProcess(t, append([]string{"--data-dir", data, "--signing-key-file", current, "--checkpoint-interval", "0"}, args...)...)
		defer func() {
			if err := s.stop(); err != nil {
				t.Error(err)
			}
		}()
		code, got := s.request(t, http.MethodGet, "/v1/audit/verify", adminKey, "")
		if code != http.StatusOK {
			t.Fatalf("verify: %d %v", code, got)
		}
		return got["ok"] == true
	}
	if verified() {
		t.Error("a checkpoint of an unknown key verified")
	}
	if !verified("--public-key", former+".pub") {
		t.Error("with --public-key naming the former key its checkpoint did not verify")
	}
}

// TestWordsAndFlagsInAnyOrder: a command's words may stand before, between
// and after its flags; after "--" everything is a word.
func TestWordsAndFlagsInAnyOrder(t *testing.T) {
	var cfg config
	o := newOptions("audit")
	storeOptions(o, &cfg)
	publicKeyOption(o, &cfg)
	got, err := o.parse([]string{"check", "--public-key", "K", "export.jsonl", "--data-dir=/srv/d", "--", "--not-a-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (words{"check", "export.jsonl", "--not-a-flag"}); !slices.Equal(got, want) || cfg.PublicKey != "K" || cfg.DataDir != "/srv/d" {
		t.Errorf("words %q, public key %q, data dir %q; want %q, K, /srv/d", got, cfg.PublicKey, cfg.DataDir, want)
	}
	if got.Num(1) != "export.jsonl" || got.Num(3) != "" {
		t.Errorf("Num: %q %q", got.Num(1), got.Num(3))
	}
}

// TestServeLogsItsSettingsWithSecretsMasked: the settings serve logs at
// start show every option, and no secret.
func TestServeLogsItsSettingsWithSecretsMasked(t *testing.T) {
	var cfg config
	o := newOptions("serve")
	serveOptions(o, &cfg)
	if _, err := o.parse([]string{"--api-keys", "admin:hunter2-admin-key", "--smtp-password", "hunter2", "--addr", "0.0.0.0:9000",
		"--eventstore-url", "kurrentdb://rma:hunter2@db:2113?tls=true"}); err != nil {
		t.Fatal(err)
	}
	shown := o.shown()
	if strings.Contains(shown, "hunter2") {
		t.Errorf("the logged settings show a secret:\n%s", shown)
	}
	for _, want := range []string{"--addr=0.0.0.0:9000\n", "--smtp-password=xxxxxx\n", "--api-keys=xxxxxx\n", "--eventstore-url=kurrentdb://xxxxxx:xxxxxx@db:2113?tls=true\n", "--smtp-host=\n"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the logged settings lack %q:\n%s", want, shown)
		}
	}
}
