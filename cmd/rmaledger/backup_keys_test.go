package main

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/privacy"
)

// customerName is the name on the test's registration.
const customerName = "Maria Georgieva"

// nameOf reads a claim's customer name from a service restored from
// backups; the claim must be there.
func nameOf(t *testing.T, s *served, id string) string {
	t.Helper()
	for range 100 { // the read models are rebuilt from the restored log at start
		code, view := s.request(t, "GET", "/v1/claims/"+id, agentKey, "")
		if code == http.StatusOK {
			customer, _ := view["customer"].(map[string]any)
			name, _ := customer["name"].(string)
			return name
		}
		if code != http.StatusNotFound {
			t.Fatalf("claim %s: %d %v", id, code, view)
		}
		s.waitReady(t)
	}
	t.Fatalf("claim %s is not in the restored service", id)
	return ""
}

// filesNamed lists the files under dir whose name is name.
func filesNamed(t *testing.T, dir, name string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			found = append(found, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// mustRun runs a command in process and fails the test unless it succeeds.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runInProcess(t, args...)
	if err != nil {
		t.Fatalf("rmaledger %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// mustRefuse runs a command in process and fails the test unless it fails
// with an error that says want.
func mustRefuse(t *testing.T, want string, args ...string) {
	t.Helper()
	out, err := runInProcess(t, args...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("rmaledger %s: %v, want an error saying %q\n%s", strings.Join(args, " "), err, want, out)
	}
}

// TestBackupKeepsTheKeysApart: the log's backup holds no personal-data
// keys; backup-keys copies them into a directory of their own, refusing
// one in a log backup or a data directory; restore restores the log only
// and says so, and the personal data opens again only after restore-keys
// is given the key backup.
func TestBackupKeepsTheKeysApart(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	s := serveInProcess(t, "--data-dir", dataDir)
	s.waitReady(t)
	id := s.register(t)["id"].(string)

	logBackup, keyBackup := filepath.Join(dir, "log-backup"), filepath.Join(dir, "key-backup")
	out := mustRun(t, "backup", logBackup, "--data-dir", dataDir)
	if !strings.Contains(out, "backed up the event log") || !strings.Contains(out, "the personal-data key store is not in this backup") {
		t.Errorf("backup said:\n%s", out)
	}
	if keys := filesNamed(t, logBackup, filepath.Base(privacy.KeyFile)); len(keys) > 0 {
		t.Errorf("the log's backup holds the key store: %v", keys)
	}

	mustRefuse(t, "holds an event log", "backup-keys", logBackup, "--data-dir", dataDir)
	mustRefuse(t, "holds an event log", "backup-keys", filepath.Join(logBackup, "keys"), "--data-dir", dataDir)
	mustRefuse(t, "holds an event log", "backup-keys", filepath.Join(dataDir, "key-backup"), "--data-dir", dataDir)
	out = mustRun(t, "backup-keys", keyBackup, "--data-dir", dataDir)
	if !strings.Contains(out, "backed up the personal-data key store") || !strings.Contains(out, "keep it apart") {
		t.Errorf("backup-keys said:\n%s", out)
	}
	if keys := filesNamed(t, keyBackup, filepath.Base(privacy.KeyFile)); len(keys) != 1 {
		t.Fatalf("the key backup holds %v", keys)
	}
	if logs := filesNamed(t, keyBackup, "events.db"); len(logs) > 0 {
		t.Errorf("the key backup holds the log: %v", logs)
	}
	mustRefuse(t, "not empty", "backup-keys", keyBackup, "--data-dir", dataDir)
	mustRefuse(t, "personal-data key backup", "backup", filepath.Join(keyBackup, "log"), "--data-dir", dataDir)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	// The log alone: restored, and said to be alone; the names stay sealed.
	logOnly := filepath.Join(dir, "log-only")
	mustRefuse(t, "restore it with rmaledger restore-keys", "restore", keyBackup, "--data-dir", logOnly)
	out = mustRun(t, "restore", logBackup, "--data-dir", logOnly)
	if !strings.Contains(out, "restored the event log: ") || !strings.Contains(out, "no personal-data keys restored") {
		t.Errorf("restore said:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(logOnly, privacy.KeyFile)); err == nil {
		t.Error("restore put a key store in place")
	}
	plain := serveInProcess(t, "--data-dir", logOnly)
	if name := nameOf(t, plain, id); name == customerName {
		t.Error("the log alone opens the customer's name")
	}
	if err := plain.stop(); err != nil {
		t.Fatal(err)
	}

	// The log and, given on purpose, the keys: the name opens.
	both := filepath.Join(dir, "both")
	mustRun(t, "restore", logBackup, "--data-dir", both)
	out = mustRun(t, "restore-keys", keyBackup, "--data-dir", both)
	if !strings.Contains(out, "restored the personal-data key store") || !strings.Contains(out, "repeat every erasure made since") {
		t.Errorf("restore-keys said:\n%s", out)
	}
	mustRefuse(t, "never overwritten", "restore-keys", keyBackup, "--data-dir", both)
	mustRefuse(t, "is not a key backup", "restore-keys", logBackup, "--data-dir", filepath.Join(dir, "other"))
	restored := serveInProcess(t, "--data-dir", both)
	if name := nameOf(t, restored, id); name != customerName {
		t.Errorf("with the keys restored the name is %q", name)
	}
}

// TestRestoreKeysChecksTheBackup: a key backup changed since it was taken
// is refused, and nothing is put in place.
func TestRestoreKeysChecksTheBackup(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	_, closeKeys, err := openPrivacy(config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	closeKeys()
	keyBackup := filepath.Join(dir, "key-backup")
	mustRun(t, "backup-keys", keyBackup, "--data-dir", dataDir)
	f, err := os.OpenFile(filepath.Join(keyBackup, privacy.KeyFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	target := filepath.Join(dir, "restored")
	mustRefuse(t, "does not match its manifest", "restore-keys", keyBackup, "--data-dir", target)
	if _, err := os.Stat(filepath.Join(target, privacy.KeyFile)); err == nil {
		t.Error("a key store was put in place from a damaged backup")
	}
	mustRefuse(t, "no key store at", "backup-keys", filepath.Join(dir, "none"), "--data-dir", filepath.Join(dir, "empty"))
}

// TestRestoreOfAnOldBackupWithKeys: a backup made when the log's backup
// still held the key store restores the log alone, says that the keys
// beside it were not restored, and restore-keys takes them when asked.
func TestRestoreOfAnOldBackupWithKeys(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	s := serveInProcess(t, "--data-dir", dataDir)
	s.waitReady(t)
	s.register(t)
	old := filepath.Join(dir, "old-backup")
	mustRun(t, "backup", old, "--data-dir", dataDir)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// As the older rmaledger backup wrote it: the key store beside the log.
	keys, err := os.ReadFile(filepath.Join(dataDir, privacy.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(old, filepath.Dir(privacy.KeyFile)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, privacy.KeyFile), keys, 0o600); err != nil {
		t.Fatal(err)
	}

	target := filepath.Join(dir, "restored")
	out := mustRun(t, "restore", old, "--data-dir", target)
	if !strings.Contains(out, "restored the event log") || !strings.Contains(out, "not restored: the personal-data key store") {
		t.Errorf("restore said:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(target, privacy.KeyFile)); err == nil {
		t.Fatal("restore put the old backup's key store in place unasked")
	}
	out = mustRun(t, "restore-keys", old, "--data-dir", target)
	if !strings.Contains(out, "restored the personal-data key store") {
		t.Errorf("restore-keys said:\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(target, privacy.KeyFile)); err != nil || string(got) != string(keys) {
		t.Errorf("the restored key store differs from the backup's: %v", err)
	}
}
