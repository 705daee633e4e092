package audit_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
	"github.com/rmaledger/rmaledger/ledger"
)

// TestVerifyChecksFiles: verify reads every attached file back and names
// the claim and the file whose bytes were changed or are gone.
func TestVerifyChecksFiles(t *testing.T) {
	ctx := context.Background()
	f := newLedgerFixture(t)
	blobs, err := files.NewDirStore(filepath.Join(f.dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := files.NewService(files.Config{Claims: f.ledger, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	claim := f.claim(2)
	attach := func(name string, data []byte) domain.AttachedFile {
		file, _, err := svc.Attach(ctx, claim, files.Upload{Name: name, Body: bytes.NewReader(data)}, ledger.Actor{Name: "tech", Role: "technician"})
		if err != nil {
			t.Fatal(err)
		}
		return file
	}
	receipt := attach("receipt.pdf", filestest.PDF(""))
	photo := attach("front.png", filestest.PNG(12, 12))
	f.claim(1)
	f.checkpoint()
	verify := func() audit.Report {
		t.Helper()
		r, err := audit.Verify(ctx, f.store, audit.VerifyOptions{Keys: f.checkpointer().Keys(), DensePositions: true, Files: blobs})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := verify(); !r.OK || r.Files != 2 {
		t.Fatalf("intact ledger: ok %v, %d files checked, break %v", r.OK, r.Files, r.Break)
	}
	path := func(file domain.AttachedFile) string {
		return filepath.Join(blobs.Dir(), file.SHA256[:2], file.SHA256[2:4], file.SHA256)
	}

	os.Chmod(path(photo), 0o640)
	if err := os.WriteFile(path(photo), filestest.PNG(13, 13), 0o640); err != nil {
		t.Fatal(err)
	}
	if r, err := audit.VerifyStream(ctx, f.store, eventlog.Claims.Stream(claim), blobs); err != nil || r.OK || r.Break.Kind != audit.BreakFileChanged {
		t.Fatalf("one claim's verification: %+v, %v", r.Break, err)
	}
	r := verify()
	if r.OK || r.Break.Kind != audit.BreakFileChanged || r.Break.Stream != eventlog.Claims.Stream(claim) ||
		!strings.Contains(r.Break.Error(), photo.ID.String()) || !strings.Contains(r.Break.Error(), claim.String()) {
		t.Fatalf("changed file: %+v", r.Break)
	}

	os.Remove(path(photo))
	os.Remove(path(receipt))
	r = verify()
	if r.OK || r.Break.Kind != audit.BreakFileMissing || !strings.Contains(r.Break.Error(), receipt.ID.String()) {
		t.Fatalf("missing file: %+v", r.Break)
	}

	if r, err := audit.Verify(ctx, f.store, audit.VerifyOptions{Keys: f.checkpointer().Keys(), DensePositions: true}); err != nil || !r.OK || r.Files != 0 {
		t.Errorf("without a file store verify checks the events alone: %+v, %v", r.Break, err)
	}
}

// TestDescribeFileAttached: the trail names the file and its step.
func TestDescribeFileAttached(t *testing.T) {
	for _, tc := range []struct {
		e    domain.FileAttached
		want string
	}{
		{domain.FileAttached{Name: "receipt.pdf", Step: domain.StepProofOfPurchase}, "File attached: receipt.pdf (proof of purchase)"},
		{domain.FileAttached{Name: "box.jpg"}, "File attached: box.jpg"},
	} {
		if got, _ := audit.Describe(tc.e); got != tc.want {
			t.Errorf("Describe(%+v) = %q, want %q", tc.e, got, tc.want)
		}
	}
}
