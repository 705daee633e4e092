package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
	"github.com/rmaledger/rmaledger/ledger"
)

// upload attaches data to the claim as the agent and returns the status and
// the answer.
func (s *served) upload(t *testing.T, id, name string, data []byte) (int, string, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("step", "proof_of_purchase")
	part, _ := w.CreateFormFile("file", name)
	part.Write(data)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/claims/"+id+"/files", &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+agentKey)
	res, err := noKeepAlive.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

// download fetches a file as the agent.
func (s *served) download(t *testing.T, href string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+href, nil)
	req.Header.Set("Authorization", "Bearer "+agentKey)
	res, err := noKeepAlive.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, body
}

func blobCount(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, e os.DirEntry, _ error) error {
		if e != nil && !e.IsDir() && files.ValidAddress(e.Name()) {
			n++
		}
		return nil
	})
	return n
}

// TestFilesBackupAndRestore: a file attached before the backup downloads,
// byte for byte, from the service restored from it (with its keys: the
// file is sealed with the customer's), and audit verify of the restored
// data directory checks it.
func TestFilesBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	s := serveInProcess(t, "--data-dir", dataDir)
	s.waitReady(t)
	id := s.register(t)["id"].(string)
	code, href, body := s.upload(t, id, "receipt.pdf", filestest.PDF(""))
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	_, original := s.download(t, href)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	backup, keys := filepath.Join(dir, "backup"), filepath.Join(dir, "keys")
	if out := mustRun(t, "backup", backup, "--data-dir", dataDir); !strings.Contains(out, "backed up 1 claims' files") {
		t.Errorf("backup said:\n%s", out)
	}
	mustRun(t, "backup-keys", keys, "--data-dir", dataDir)
	restored := filepath.Join(dir, "restored")
	if out := mustRun(t, "restore", backup, "--data-dir", restored); !strings.Contains(out, "restored 1 claims' files") {
		t.Errorf("restore said:\n%s", out)
	}
	mustRun(t, "restore-keys", keys, "--data-dir", restored)
	if out := mustRun(t, "audit", "verify", "--data-dir", restored); !strings.Contains(out, "claims' files: 1 checked") {
		t.Errorf("audit verify of the restored directory said:\n%s", out)
	}
	again := serveInProcess(t, "--data-dir", restored)
	again.waitReady(t)
	if code, got := again.download(t, href); code != http.StatusOK || !bytes.Equal(got, original) {
		t.Fatalf("the restored file: %d, %d bytes, want the %d downloaded before", code, len(got), len(original))
	}
}

// TestAuditVerifyCommandFindsAlteredFiles: rmaledger audit verify names the
// claim and the file whose bytes were changed, then the one that is gone.
func TestAuditVerifyCommandFindsAlteredFiles(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := serveInProcess(t, "--data-dir", dataDir)
	s.waitReady(t)
	id := s.register(t)["id"].(string)
	if code, _, body := s.upload(t, id, "r.pdf", filestest.PDF("")); code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	var blob string
	filepath.WalkDir(filepath.Join(dataDir, filesDir), func(p string, e os.DirEntry, _ error) error {
		if e != nil && files.ValidAddress(e.Name()) {
			blob = p
		}
		return nil
	})
	os.Chmod(blob, 0o640)
	os.WriteFile(blob, []byte("swapped"), 0o640)
	out, err := runInProcess(t, "audit", "verify", "--data-dir", dataDir)
	if err == nil || !strings.Contains(out, "file-changed") || !strings.Contains(out, "claim "+id) {
		t.Errorf("changed file: %v\n%s", err, out)
	}
	os.Remove(blob)
	out, err = runInProcess(t, "audit", "verify", "--data-dir", dataDir)
	if err == nil || !strings.Contains(out, "file-missing") || !strings.Contains(out, "claim "+id) {
		t.Errorf("missing file: %v\n%s", err, out)
	}
}

// TestFilesS3Flags: with --files-s3-endpoint and --files-s3-bucket (keys
// from RMALEDGER_S3_*) the files go to the bucket, not the data directory;
// a bucket that does not exist stops serve at start.
func TestFilesS3Flags(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("claims"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	t.Setenv("RMALEDGER_S3_ACCESS_KEY", "test")
	t.Setenv("RMALEDGER_S3_SECRET_KEY", "test-secret")

	dataDir := filepath.Join(t.TempDir(), "data")
	s := serveInProcess(t, "--data-dir", dataDir, "--files-s3-endpoint", srv.URL, "--files-s3-bucket", "claims", "--files-s3-prefix", "rmaledger/", "--files-s3-region", "us-east-1")
	s.waitReady(t)
	id := s.register(t)["id"].(string)
	code, href, body := s.upload(t, id, "receipt.pdf", filestest.PDF(""))
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	objects, err := backend.ListBucket("claims", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil || len(objects.Contents) != 1 || !strings.HasPrefix(objects.Contents[0].Key, "rmaledger/") {
		t.Fatalf("bucket: %+v, %v", objects, err)
	}
	if n := blobCount(t, filepath.Join(dataDir, filesDir)); n != 0 {
		t.Errorf("%d blobs in the data directory", n)
	}
	if code, got := s.download(t, href); code != http.StatusOK || len(got) == 0 {
		t.Errorf("download from the bucket: %d", code)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.DeleteObject("claims", objects.Contents[0].Key); err != nil {
		t.Fatal(err)
	}
	out, err := runInProcess(t, "audit", "verify", "--data-dir", dataDir, "--files-s3-endpoint", srv.URL, "--files-s3-bucket", "claims", "--files-s3-prefix", "rmaledger/", "--files-s3-region", "us-east-1")
	if err == nil || !strings.Contains(out, "file-missing") {
		t.Errorf("audit verify with the object gone: %v\n%s", err, out)
	}

	out, err = runInProcess(t, "serve", "--addr", freeAddr(t), "--data-dir", filepath.Join(t.TempDir(), "d"), "--files-s3-endpoint", srv.URL, "--files-s3-bucket", "nobucket", "--files-s3-region", "us-east-1")
	if err == nil || !strings.Contains(err.Error(), "nobucket does not exist") {
		t.Errorf("serve with a missing bucket: %v\n%s", err, out)
	}
	out, err = runInProcess(t, "serve", "--addr", freeAddr(t), "--data-dir", filepath.Join(t.TempDir(), "d"), "--files-s3-endpoint", srv.URL)
	if err == nil || !strings.Contains(err.Error(), "the S3 bucket is required") {
		t.Errorf("serve with an endpoint and no bucket: %v\n%s", err, out)
	}
	out, err = runInProcess(t, "serve", "--addr", freeAddr(t), "--data-dir", filepath.Join(t.TempDir(), "d"), "--files-max-bytes", "2048", "--files-max-claim-bytes", "1024")
	if err == nil || !strings.Contains(err.Error(), "files-max-claim-bytes 1024 is less than files-max-bytes 2048") {
		t.Errorf("serve with a claim limit below the file limit: %v\n%s", err, out)
	}
}

// TestFilesPerClaimFlag: --files-max-per-claim bounds a claim's files.
func TestFilesPerClaimFlag(t *testing.T) {
	s := serveInProcess(t, "--data-dir", filepath.Join(t.TempDir(), "data"), "--files-max-per-claim", "1")
	s.waitReady(t)
	id := s.register(t)["id"].(string)
	if code, _, body := s.upload(t, id, "a.pdf", filestest.PDF("")); code != http.StatusCreated {
		t.Fatalf("the first file: %d %s", code, body)
	}
	if code, _, body := s.upload(t, id, "b.pdf", filestest.PDF("")); code != http.StatusConflict || !strings.Contains(body, "file-claim-full") {
		t.Errorf("a second file past --files-max-per-claim 1: %d %s", code, body)
	}
}

// TestFilesMaxBytesFlag: --files-max-bytes bounds an upload, and
// --files-max-claim-bytes a claim's files.
func TestFilesMaxBytesFlag(t *testing.T) {
	s := serveInProcess(t, "--data-dir", filepath.Join(t.TempDir(), "data"), "--files-max-bytes", "2048", "--files-max-claim-bytes", "4096")
	s.waitReady(t)
	id := s.register(t)["id"].(string)
	big := append(filestest.PDF(""), make([]byte, 2048)...)
	if code, _, body := s.upload(t, id, "big.pdf", big); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "file-too-large") {
		t.Errorf("an upload over --files-max-bytes: %d %s", code, body)
	}
	small := append(filestest.PDF(""), make([]byte, 1500-len(filestest.PDF("")))...)
	for i := range 2 {
		if code, _, body := s.upload(t, id, "small.pdf", small); code != http.StatusCreated {
			t.Errorf("upload %d within the limits: %d %s", i, code, body)
		}
	}
	if code, _, body := s.upload(t, id, "third.pdf", small); code != http.StatusConflict || !strings.Contains(body, "file-claim-full") {
		t.Errorf("a third past --files-max-claim-bytes 4096: %d %s", code, body)
	}
}

// TestConsoleAuditChecksFiles: serve's console, as withFiles wires it, shows
// an auditor a claim whose file was changed as broken, naming the file.
func TestConsoleAuditChecksFiles(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := newConsoleWorld(t, logger, [2]string{"ada", "auditor"})
	keys := &api.Keys{}
	if err := keys.Add(api.RoleAuditor, "console-test-auditor-key"); err != nil {
		t.Fatal(err)
	}
	blobs, err := files.NewDirStore(filepath.Join(w.dir, filesDir))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := files.NewService(files.Config{Claims: w.service, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	e, err := api.New(api.Config{Ledger: w.service, Reads: w.reads, Keys: keys, Logger: logger, Files: svc})
	if err != nil {
		t.Fatal(err)
	}
	if err := mountConsole(e, w.people, w.service, w.reads, w.policies, time.UTC, nil, time.Now, logger, "", nil, withFiles(svc, blobs)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	var reg domain.RegisterClaim
	if err := json.Unmarshal([]byte(registration), &reg); err != nil {
		t.Fatal(err)
	}
	res, err := w.service.Register(ctx, &reg, ledger.Request{Actor: ledger.Actor{Name: "desk", Role: "agent"}})
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := svc.Attach(ctx, res.Claim.ID, files.Upload{Name: "act.pdf", Body: bytes.NewReader(filestest.PDF(""))}, ledger.Actor{Name: "desk", Role: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(blobs.Dir(), f.SHA256[:2], f.SHA256[2:4], f.SHA256)
	os.Chmod(path, 0o640)
	os.WriteFile(path, []byte("swapped"), 0o640)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	signIn, _ := client.Get(srv.URL + "/console/sign-in")
	page, _ := io.ReadAll(signIn.Body)
	signIn.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)[1]
	if _, err := client.PostForm(srv.URL+"/console/sign-in", url.Values{"csrf": {string(csrf)}, "name": {"ada"}, "password": {"a-long-enough-password"}}); err != nil {
		t.Fatal(err)
	}
	got, err := client.Get(srv.URL + "/console/audit/claims/" + res.Claim.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !strings.Contains(string(body), "file-changed") || !strings.Contains(string(body), f.ID.String()) {
		t.Errorf("the audit page of a claim with a changed file: %d\n%s", got.StatusCode, body)
	}
}

// TestErasureMakesFilesUnreadable: through serve, a customer's erasure makes
// the claim's file unreadable (410 file-erased) and its name [erased], while
// audit verify still finds the file intact.
func TestErasureMakesFilesUnreadable(t *testing.T) {
	const adminKey = "admin-key-for-files-erasure-test"
	t.Setenv("RMALEDGER_API_KEYS", testAgentKey+",admin:"+adminKey)
	dataDir := filepath.Join(t.TempDir(), "data")
	s := serveInProcess(t, "--data-dir", dataDir)
	s.waitReady(t)
	claim := s.register(t)
	id, customer := claim["id"].(string), claim["customer_id"].(string)
	code, href, body := s.upload(t, id, "maria-georgieva-receipt.pdf", filestest.PDF(""))
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	if code, _ := s.download(t, href); code != http.StatusOK {
		t.Fatalf("download before erasure: %d", code)
	}
	if code, answer := s.request(t, http.MethodPost, "/v1/customers/"+customer+"/erase", adminKey, ""); code != http.StatusOK {
		t.Fatalf("erase: %d %v", code, answer)
	}
	if code, got := s.download(t, href); code != http.StatusGone || !strings.Contains(string(got), "file-erased") {
		t.Errorf("download after erasure: %d %s", code, got)
	}
	if _, list := s.request(t, http.MethodGet, "/v1/claims/"+id+"/files", agentKey, ""); !strings.Contains(fmt.Sprint(list), "[erased]") {
		t.Errorf("the file's name after erasure: %v", list)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "audit", "verify", "--data-dir", dataDir); !strings.Contains(out, "claims' files: 1 checked") || !strings.Contains(out, "OK") {
		t.Errorf("audit verify after erasure:\n%s", out)
	}
}
