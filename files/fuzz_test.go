package files_test

import (
	"errors"
	"testing"

	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
)

// FuzzInspect: whatever bytes arrive, Inspect answers content or a
// refusal, never a panic, and accepted content is one of the three types.
func FuzzInspect(f *testing.F) {
	for _, seed := range [][]byte{
		filestest.JPEG(16, 16, 6), filestest.PNG(8, 8), filestest.PDF(""), filestest.PNGWithHTML(),
		filestest.JPEGZip(), filestest.HEIC(), []byte("%PDF-1.7\n%%EOF"), {0xff, 0xd8, 0xff, 0xe1, 0, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := files.Inspect(data, 1_000_000)
		var r *files.Refusal
		switch {
		case err != nil && !errors.As(err, &r):
			t.Fatalf("an error that is not a refusal: %v", err)
		case err == nil && c.Type != "image/jpeg" && c.Type != "image/png" && c.Type != "application/pdf":
			t.Fatalf("accepted as %q", c.Type)
		}
	})
}
