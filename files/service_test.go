package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/privacy"
)

// desk is a ledger with encrypted personal data, a blob directory and a
// files service over both, with one registered claim.
type desk struct {
	ledger *ledger.Service
	store  eventstore.Store
	blobs  *files.DirStore
	files  *files.Service
	claim  uuid.UUID
}

var technician = ledger.Actor{Name: "tech-1", Role: "technician"}

func newDesk(t *testing.T, limits files.Limits) *desk {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keys, err := privacy.OpenSQLite(filepath.Join(dir, privacy.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	codec := privacy.NewCodec(keys)
	l, err := ledger.New(store, ledger.Config{Privacy: codec})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := files.NewDirStore(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := files.NewService(files.Config{Claims: l, Blobs: blobs, Privacy: codec, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	price, _ := domain.ParseMoney("499.00", "EUR")
	bought, _ := domain.ParseDate("2026-01-15")
	res, err := l.Register(context.Background(), &domain.RegisterClaim{
		Customer: domain.Customer{Name: "Eleni Papadopoulou", Phone: "+30 210 123 4567"},
		Product:  domain.Product{Category: "phone", IMEI: "490154203237518"}, PurchaseDate: bought, Price: price, Defect: "screen flickers",
	}, ledger.Request{Actor: ledger.Actor{Name: "agent-1", Role: "agent"}})
	if err != nil {
		t.Fatal(err)
	}
	return &desk{ledger: l, store: store, blobs: blobs, files: svc, claim: res.Claim.ID}
}

// written is what a refusal must leave as it was: the claim's events and the blobs.
func (d *desk) written(t *testing.T) (events int, blobs int) {
	t.Helper()
	recs, err := d.store.ReadStream(context.Background(), eventlog.Claims.Stream(d.claim), eventstore.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(d.blobs.Dir(), func(_ string, e os.DirEntry, _ error) error {
		if e != nil && !e.IsDir() {
			blobs++
		}
		return nil
	})
	return len(recs), blobs
}

func TestAttachAndOpen(t *testing.T) {
	ctx := context.Background()
	d := newDesk(t, files.Limits{})
	photo := filestest.JPEG(64, 48, 1)
	f, pos, err := d.files.Attach(ctx, d.claim, files.Upload{Name: `C:\Users\eleni\Eleni Papadopoulou front.jpeg`, Body: bytes.NewReader(photo), Step: domain.StepIntakePhotos}, technician)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "Eleni Papadopoulou front.jpeg" || f.ContentType != domain.ContentTypeJPEG || f.Step != domain.StepIntakePhotos || !f.Encrypted || pos == (eventstore.Position{}) {
		t.Fatalf("attached %+v at %v", f, pos)
	}
	list, err := d.files.List(ctx, d.claim)
	if err != nil || len(list) != 1 || list[0].ID != f.ID {
		t.Fatalf("list %+v, %v", list, err)
	}
	got, content, err := d.files.Open(ctx, d.claim, f.ID)
	if err != nil || got.ID != f.ID || int64(len(content)) != f.Size {
		t.Fatalf("open: %+v, %d bytes, %v", got, len(content), err)
	}
	if _, err := files.Inspect(content, 0); err != nil {
		t.Errorf("the content read back is not the image: %v", err)
	}
	// What is stored is sealed: neither the event nor the blob shows the name or the picture.
	recs, _ := d.store.ReadStream(ctx, eventlog.Claims.Stream(d.claim), eventstore.Forwards, 0, 0)
	last := recs[len(recs)-1]
	if last.Type != "claim.file_attached.v1" || bytes.Contains(last.Data, []byte("Papadopoulou")) || !bytes.Contains(last.Data, []byte(f.SHA256)) {
		t.Errorf("stored event %s %s", last.Type, last.Data)
	}
	rc, err := d.blobs.Get(ctx, f.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(stored, content[:64]) || files.Address(stored) != f.SHA256 {
		t.Error("the blob is not the sealed file its address names")
	}

	if _, _, err := d.files.Open(ctx, d.claim, uuid.New()); !errors.Is(err, files.ErrFileNotFound) {
		t.Errorf("unknown file: %v", err)
	}
	if _, _, err := d.files.Open(ctx, uuid.New(), f.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("unknown claim: %v", err)
	}
}

// TestAttachRefusesAndWritesNothing: every refusal leaves the claim's
// events and the blob store as they were.
func TestAttachRefusesAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	d := newDesk(t, files.Limits{MaxFileBytes: 64 << 10, MaxClaimFiles: 2, MaxClaimBytes: 200 << 10})
	if _, _, err := d.files.Attach(ctx, d.claim, files.Upload{Name: "receipt.pdf", Body: bytes.NewReader(filestest.PDF(""))}, technician); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		claim uuid.UUID
		up    files.Upload
		code  string
		err   error
	}{
		{name: "wrong type", up: files.Upload{Name: "page.html", Body: strings.NewReader("<html></html>")}, code: files.CodeType},
		{name: "polyglot", up: files.Upload{Name: "x.png", Body: bytes.NewReader(filestest.PNGWithHTML())}, code: files.CodeType},
		{name: "HEIC", up: files.Upload{Name: "IMG_0001.HEIC", Body: bytes.NewReader(filestest.HEIC())}, code: files.CodeHEIC},
		{name: "too large", up: files.Upload{Name: "big.pdf", Body: bytes.NewReader(append(filestest.PDF(""), make([]byte, 64<<10)...))}, code: files.CodeTooLarge},
		{name: "unknown step", up: files.Upload{Name: "x.pdf", Body: bytes.NewReader(filestest.PDF("")), Step: "selfie"}, err: domain.ValidationErrors{}},
		{name: "unknown claim", claim: uuid.New(), up: files.Upload{Name: "x.pdf", Body: bytes.NewReader(filestest.PDF(""))}, err: ledger.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events, blobs := d.written(t)
			claim := d.claim
			if tc.claim != uuid.Nil {
				claim = tc.claim
			}
			_, _, err := d.files.Attach(ctx, claim, tc.up, technician)
			var r *files.Refusal
			switch {
			case tc.code != "" && (!errors.As(err, &r) || r.RefusalCode() != tc.code):
				t.Errorf("error %v, want refusal %s", err, tc.code)
			case tc.err == ledger.ErrNotFound && !errors.Is(err, ledger.ErrNotFound):
				t.Errorf("error %v, want not found", err)
			case tc.err != nil && tc.err != ledger.ErrNotFound && !errors.As(err, new(domain.ValidationErrors)):
				t.Errorf("error %v, want validation errors", err)
			}
			if e, b := d.written(t); e != events || b != blobs {
				t.Errorf("wrote %d events and %d blobs", e-events, b-blobs)
			}
		})
	}

	t.Run("the claim's last place, then claim-full", func(t *testing.T) {
		if _, _, err := d.files.Attach(ctx, d.claim, files.Upload{Name: "a.png", Body: bytes.NewReader(filestest.PNG(8, 8))}, technician); err != nil {
			t.Fatal(err)
		}
		events, blobs := d.written(t)
		err := d.files.AttachCustomerFile(ctx, d.claim, "b.png", bytes.NewReader(filestest.PNG(9, 9)), "")
		var coded interface{ RefusalCode() string }
		if !errors.As(err, &coded) || coded.RefusalCode() != files.CodeClaimFull {
			t.Fatalf("third file: %v, want file.claim-full", err)
		}
		if e, b := d.written(t); e != events || b != blobs {
			t.Errorf("wrote %d events and %d blobs", e-events, b-blobs)
		}
	})
}

// TestClaimBytesLimit: a file that would take the claim's files past the
// bytes one claim may hold is refused as claim-full (the same limit is
// decided again with the event: see domain's TestAttachFile).
func TestClaimBytesLimit(t *testing.T) {
	ctx := context.Background()
	d := newDesk(t, files.Limits{})
	pdf := filestest.PDF("")
	_, err := d.ledger.Execute(ctx, d.claim, &domain.AttachFile{FileID: uuid.New(), SHA256: files.Address(pdf), Size: 100, ContentType: domain.ContentTypePDF, Name: "a.pdf", MaxBytes: 100 + int64(len(pdf)) - 1}, ledger.Request{Actor: technician})
	if err != nil {
		t.Fatal(err)
	}
	limited, err := files.NewService(files.Config{Claims: d.ledger, Blobs: d.blobs, Limits: files.Limits{MaxClaimBytes: 100 + int64(len(pdf)) - 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = limited.Attach(ctx, d.claim, files.Upload{Name: "b.pdf", Body: bytes.NewReader(pdf)}, technician)
	var r *files.Refusal
	if !errors.As(err, &r) || r.Code != files.CodeClaimFull {
		t.Fatalf("error %v, want claim-full", err)
	}
}

func TestAttachIsIdempotentWithAKey(t *testing.T) {
	ctx := context.Background()
	d := newDesk(t, files.Limits{})
	up := func() files.Upload {
		return files.Upload{Name: "r.pdf", Body: bytes.NewReader(filestest.PDF("")), IdempotencyKey: "upload-1"}
	}
	first, _, err := d.files.Attach(ctx, d.claim, up(), technician)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := d.files.Attach(ctx, d.claim, up(), technician)
	if err != nil || second.ID != first.ID {
		t.Fatalf("retry: %+v, %v", second, err)
	}
	if list, _ := d.files.List(ctx, d.claim); len(list) != 1 {
		t.Errorf("%d files after a retried upload", len(list))
	}
}

// TestErasureMakesFilesUnreadable: after the customer's erasure the file's
// sealed bytes are still stored and still match the ledger's hash, but no
// longer open, and the name is gone.
func TestErasureMakesFilesUnreadable(t *testing.T) {
	ctx := context.Background()
	d := newDesk(t, files.Limits{})
	f, _, err := d.files.Attach(ctx, d.claim, files.Upload{Name: "eleni-receipt.pdf", Body: bytes.NewReader(filestest.PDF(""))}, files.CustomerActor)
	if err != nil {
		t.Fatal(err)
	}
	claim, _, _ := d.ledger.Claim(ctx, d.claim)
	if _, err := d.ledger.EraseCustomer(ctx, claim.CustomerID, ledger.Request{Actor: ledger.Actor{Name: "admin", Role: "admin"}}); err != nil {
		t.Fatal(err)
	}
	got, content, err := d.files.Open(ctx, d.claim, f.ID)
	if !errors.Is(err, files.ErrFileErased) || content != nil {
		t.Fatalf("open after erasure: %d bytes, %v; want ErrFileErased", len(content), err)
	}
	if got.Name != domain.Erased {
		t.Errorf("name after erasure %q", got.Name)
	}
	rc, err := d.blobs.Get(ctx, f.SHA256)
	if err != nil {
		t.Fatalf("the sealed blob must stay: %v", err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if files.Address(stored) != f.SHA256 {
		t.Error("the sealed blob no longer matches its hash")
	}
	// Audit verify counts the erased file as checked and finds no break:
	// erasure is not tampering.
	r, err := audit.Verify(ctx, d.store, audit.VerifyOptions{DensePositions: true, Files: d.blobs})
	if err != nil || !r.OK || r.Files != 1 {
		t.Errorf("verify after erasure: ok %v, %d files, break %v, %v", r.OK, r.Files, r.Break, err)
	}
}

func TestOpenFindsADamagedFile(t *testing.T) {
	ctx := context.Background()
	d := newDesk(t, files.Limits{})
	f, _, err := d.files.Attach(ctx, d.claim, files.Upload{Name: "r.pdf", Body: bytes.NewReader(filestest.PDF(""))}, technician)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.blobs.Dir(), f.SHA256[:2], f.SHA256[2:4], f.SHA256)
	os.Chmod(path, 0o640)
	if err := os.WriteFile(path, []byte("swapped"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.files.Open(ctx, d.claim, f.ID); !errors.Is(err, files.ErrFileDamaged) {
		t.Errorf("altered: %v", err)
	}
	os.Remove(path)
	if _, _, err := d.files.Open(ctx, d.claim, f.ID); !errors.Is(err, files.ErrFileDamaged) {
		t.Errorf("missing: %v", err)
	}
}

// portal is the interface the customer portal declares; the service must
// satisfy it as it is.
type portal interface {
	AttachCustomerFile(ctx context.Context, claimID uuid.UUID, name string, body io.Reader, step string) error
}

var _ portal = (*files.Service)(nil)

// TestCheckCustomerFile: the claim form's check refuses what attaching
// would, with the same codes, and stores nothing.
func TestCheckCustomerFile(t *testing.T) {
	d := newDesk(t, files.Limits{MaxFileBytes: 64 << 10})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		data []byte
		code string
	}{
		{"a photo", filestest.JPEG(32, 24, 1), ""},
		{"a receipt", filestest.PDF(""), ""},
		{"an iPhone photo", filestest.HEIC(), "file.heic"},
		{"a photo with a page appended", filestest.PNGWithHTML(), "file.type"},
		{"a program", []byte("MZ\x90\x00 not a photo"), "file.type"},
		{"too large", filestest.NoisyPNG(256, 256), "file.too-large"},
	} {
		err := d.files.CheckCustomerFile(ctx, bytes.NewReader(tc.data))
		var refusal interface{ RefusalCode() string }
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.code != "" && (!errors.As(err, &refusal) || refusal.RefusalCode() != tc.code):
			t.Errorf("%s: %v, want the refusal %s", tc.name, err, tc.code)
		}
	}
	if events, blobs := d.written(t); events != 1 || blobs != 0 {
		t.Fatalf("checking wrote %d events and %d blobs", events-1, blobs)
	}
}
