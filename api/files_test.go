package api

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
)

// withFiles serves files from a blob directory of the test's, with limits.
func withFiles(t *testing.T, limits files.Limits, blobs **files.DirStore) testOption {
	return func(w *testWiring) {
		prev := w.config
		w.config = func(c *Config) {
			if prev != nil {
				prev(c)
			}
			store, err := files.NewDirStore(filepath.Join(t.TempDir(), "files"))
			if err != nil {
				t.Fatal(err)
			}
			svc, err := files.NewService(files.Config{Claims: c.Ledger, Blobs: store, Limits: limits})
			if err != nil {
				t.Fatal(err)
			}
			c.Files, c.Audit.Files, *blobs = svc, store, store
		}
	}
}

// upload posts a multipart body: the parts in order, "file" with the name given.
func (ts *testServer) upload(id string, role Role, name string, data []byte, fields ...string) response {
	ts.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		w.WriteField(fields[i], fields[i+1])
	}
	if data != nil {
		part, _ := w.CreateFormFile("file", name)
		part.Write(data)
	}
	w.Close()
	req := httptest.NewRequest(http.MethodPost, "/v1/claims/"+id+"/files", &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+ts.keys[role])
	rec := httptest.NewRecorder()
	ts.echo.ServeHTTP(rec, req)
	return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func countBlobs(t *testing.T, s *files.DirStore) int {
	n := 0
	filepath.WalkDir(s.Dir(), func(_ string, e os.DirEntry, _ error) error {
		if e != nil && !e.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestFilesUploadListDownload: an upload larger than the API's body limit
// (64 KiB here) but within the files limit is taken, listed and served as
// a download in the type found, whatever the client called it.
func TestFilesUploadListDownload(t *testing.T) {
	var blobs *files.DirStore
	ts := newTestServer(t, withFiles(t, files.Limits{}, &blobs))
	id := ts.register()
	photo := filestest.NoisyPNG(200, 200) // larger than MaxBodyBytes
	if len(photo) <= 64<<10 {
		t.Fatalf("the sample is %d bytes; it must exceed the API's body limit", len(photo))
	}
	res := ts.upload(id, RoleTechnician, "../../intake \"front\".html", photo, "step", "intake_photos")
	if res.Code != http.StatusCreated {
		t.Fatalf("upload: %d %s", res.Code, res.Body)
	}
	f := res.json(t)
	href := f["href"].(string)
	if res.Header.Get("Location") != href || f["content_type"] != "image/png" || f["step"] != "intake_photos" || f["name"] != "intake front.html.png" {
		t.Fatalf("answer %v, Location %q", f, res.Header.Get("Location"))
	}

	list := ts.do(http.MethodGet, "/v1/claims/"+id+"/files", RoleFinance, nil)
	var body struct{ Files []map[string]any }
	if err := json.Unmarshal(list.Body, &body); list.Code != http.StatusOK || err != nil || len(body.Files) != 1 || body.Files[0]["href"] != href {
		t.Fatalf("list: %d %s", list.Code, list.Body)
	}

	got := ts.do(http.MethodGet, href, RoleAuditor, nil)
	h := got.Header
	if got.Code != http.StatusOK || h.Get("Content-Type") != "image/png" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="intake front.html.png"`) {
		t.Fatalf("download: %d %v", got.Code, h)
	}
	if _, err := files.Inspect(got.Body, 0); err != nil || files.Address(got.Body) != f["sha256"] {
		t.Errorf("the download is not the stored image: %v", err)
	}

	claim := ts.do(http.MethodGet, "/v1/claims/"+id+"/events", RoleAgent, nil)
	if !bytes.Contains(claim.Body, []byte("claim.file_attached.v1")) || !bytes.Contains(claim.Body, []byte(f["sha256"].(string))) {
		t.Errorf("the history does not record the file's hash: %s", claim.Body)
	}
}

// TestFilesRefusalsWriteNothing: each refusal is a precise problem, and
// neither an event nor a blob is written.
func TestFilesRefusalsWriteNothing(t *testing.T) {
	var blobs *files.DirStore
	ts := newTestServer(t, withFiles(t, files.Limits{MaxFileBytes: 200 << 10, MaxClaimFiles: 1}, &blobs))
	id := ts.register()
	full := ts.register()
	if res := ts.upload(full, RoleAgent, "receipt.pdf", filestest.PDF("")); res.Code != http.StatusCreated {
		t.Fatalf("first file: %d %s", res.Code, res.Body)
	}
	big := append(filestest.PDF(""), make([]byte, 200<<10)...)
	huge := make([]byte, 2<<20) // past the multipart allowance too: the body itself is cut off
	for _, tc := range []struct {
		name   string
		claim  string
		role   Role
		file   string
		data   []byte
		fields []string
		status int
		slug   string
	}{
		{"an HTML page", id, RoleAgent, "receipt.pdf", []byte("<html><script>alert(1)</script></html>"), nil, http.StatusUnsupportedMediaType, "file-type"},
		{"a PNG with an HTML page appended", id, RoleAgent, "photo.png", filestest.PNGWithHTML(), nil, http.StatusUnsupportedMediaType, "file-polyglot"},
		{"a PNG with a PDF appended", id, RoleAgent, "photo.png", filestest.PNGWithPDF(), nil, http.StatusUnsupportedMediaType, "file-polyglot"},
		{"a JPEG that is also a ZIP", id, RoleAgent, "photo.jpg", filestest.JPEGZip(), nil, http.StatusUnsupportedMediaType, "file-polyglot"},
		{"a HEIC photo", id, RoleAgent, "IMG_0001.HEIC", filestest.HEIC(), nil, http.StatusUnsupportedMediaType, "file-heic"},
		{"too large", id, RoleAgent, "big.pdf", big, nil, http.StatusRequestEntityTooLarge, "file-too-large"},
		{"far too large", id, RoleAgent, "huge.pdf", huge, nil, http.StatusRequestEntityTooLarge, "file-too-large"},
		{"past the claim's files", full, RoleAgent, "second.pdf", filestest.PDF(""), nil, http.StatusConflict, "file-claim-full"},
		{"an unknown step", id, RoleAgent, "r.pdf", filestest.PDF(""), []string{"step", "selfie"}, http.StatusUnprocessableEntity, "validation"},
		{"no file part", id, RoleAgent, "", nil, []string{"step", "other"}, http.StatusUnprocessableEntity, "validation"},
		{"an unknown part", id, RoleAgent, "r.pdf", filestest.PDF(""), []string{"comment", "hi"}, http.StatusBadRequest, "unknown-part"},
		{"an unknown claim", "0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e", RoleAgent, "r.pdf", filestest.PDF(""), nil, http.StatusNotFound, "not-found"},
		{"finance may not attach", id, RoleFinance, "r.pdf", filestest.PDF(""), nil, http.StatusForbidden, "forbidden"},
		{"an auditor may not attach", id, RoleAuditor, "r.pdf", filestest.PDF(""), nil, http.StatusForbidden, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events, stored := ts.eventCount(), countBlobs(t, blobs)
			res := ts.upload(tc.claim, tc.role, tc.file, tc.data, tc.fields...)
			if res.Code != tc.status || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s %s, want %d", res.Code, res.Header.Get("Content-Type"), res.Body, tc.status)
			}
			if p := res.json(t); p["type"] != "urn:rmaledger:problem:"+tc.slug || p["detail"] == "" {
				t.Errorf("problem %v, want %s with a detail", p, tc.slug)
			}
			if e, b := ts.eventCount(), countBlobs(t, blobs); e != events || b != stored {
				t.Errorf("wrote %d events and %d blobs", e-events, b-stored)
			}
		})
	}

	t.Run("not multipart", func(t *testing.T) {
		res := ts.do(http.MethodPost, "/v1/claims/"+id+"/files", RoleAgent, map[string]any{"file": "x"})
		if res.Code != http.StatusUnsupportedMediaType {
			t.Errorf("%d %s", res.Code, res.Body)
		}
	})
}

func TestFilesDownloadRefusals(t *testing.T) {
	var blobs *files.DirStore
	ts := newTestServer(t, withFiles(t, files.Limits{}, &blobs))
	id := ts.register()
	res := ts.upload(id, RoleAgent, "r.pdf", filestest.PDF(""))
	if res.Code != http.StatusCreated {
		t.Fatal(res.Code, string(res.Body))
	}
	f := res.json(t)
	for _, tc := range []struct {
		path   string
		status int
		slug   string
	}{
		{"/v1/claims/" + id + "/files/0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e", http.StatusNotFound, "file-not-found"},
		{"/v1/claims/" + id + "/files/not-a-uuid", http.StatusNotFound, "file-not-found"},
		{"/v1/claims/0b6f9a52-3c1e-4c8e-9d55-1f2a3b4c5d6e/files", http.StatusNotFound, "not-found"},
	} {
		got := ts.do(http.MethodGet, tc.path, RoleAgent, nil)
		if got.Code != tc.status || got.json(t)["type"] != "urn:rmaledger:problem:"+tc.slug {
			t.Errorf("%s: %d %s", tc.path, got.Code, got.Body)
		}
	}
	sum := f["sha256"].(string)
	path := filepath.Join(blobs.Dir(), sum[:2], sum[2:4], sum)
	os.Chmod(path, 0o640)
	os.WriteFile(path, []byte("%PDF-1.7 swapped"), 0o640)
	if got := ts.do(http.MethodGet, f["href"].(string), RoleAgent, nil); got.Code != http.StatusInternalServerError || got.json(t)["type"] != "urn:rmaledger:problem:file-damaged" {
		t.Errorf("an altered file is served: %d %s", got.Code, got.Body)
	}
}

// TestFilesWithoutAStore: a deployment without a file store says so.
func TestFilesWithoutAStore(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	if res := ts.upload(id, RoleAgent, "r.pdf", filestest.PDF("")); res.Code != http.StatusNotImplemented {
		t.Errorf("%d %s", res.Code, res.Body)
	}
}

func TestContentDisposition(t *testing.T) {
	got := ContentDisposition(`Квитанция "1";'x'.pdf`)
	if got != `attachment; filename="_________ _1__'x'.pdf"; filename*=UTF-8''%D0%9A%D0%B2%D0%B8%D1%82%D0%B0%D0%BD%D1%86%D0%B8%D1%8F%20%221%22%3B%27x%27.pdf` {
		t.Errorf("got %s", got)
	}
}

// TestAuditVerifyChecksFiles: GET /v1/audit/verify reads the attached files
// back and names the claim and file whose bytes were changed.
func TestAuditVerifyChecksFiles(t *testing.T) {
	var blobs *files.DirStore
	ts := newTestServer(t, withFiles(t, files.Limits{}, &blobs))
	id := ts.register()
	res := ts.upload(id, RoleTechnician, "receipt.pdf", filestest.PDF(""))
	if res.Code != http.StatusCreated {
		t.Fatal(res.Code, string(res.Body))
	}
	f := res.json(t)
	if got := ts.do(http.MethodGet, "/v1/audit/verify", RoleAuditor, nil).json(t); got["ok"] != true || got["files"] != float64(1) {
		t.Fatalf("intact: %v", got)
	}
	sum := f["sha256"].(string)
	path := filepath.Join(blobs.Dir(), sum[:2], sum[2:4], sum)
	os.Chmod(path, 0o640)
	os.WriteFile(path, []byte("%PDF-1.7 swapped"), 0o640)
	got := ts.do(http.MethodGet, "/v1/audit/verify", RoleAuditor, nil).json(t)
	b, _ := got["break"].(map[string]any)
	if got["ok"] != false || b["kind"] != "file-changed" || !strings.Contains(b["detail"].(string), f["id"].(string)) || !strings.Contains(b["detail"].(string), id) {
		t.Errorf("changed: %v", got)
	}
}

// TestUploadSlotsAreBounded: past maxUploads at once an upload waits, and
// gets 503 uploads-busy instead of another file held in memory.
func TestUploadSlotsAreBounded(t *testing.T) {
	s := &server{uploads: make(chan struct{}, maxUploads)}
	var releases []func()
	for range maxUploads {
		release, err := s.uploadSlot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.uploadSlot(ctx)
	if p := problemFor(err); p.Status != http.StatusServiceUnavailable || p.Type != "urn:rmaledger:problem:uploads-busy" {
		t.Fatalf("a fifth upload: %v", err)
	}
	releases[0]()
	if release, err := s.uploadSlot(context.Background()); err != nil {
		t.Fatalf("after one ended: %v", err)
	} else {
		release()
	}
}
