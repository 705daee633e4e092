package files_test

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/filestest"
)

func TestInspectAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		typ  string
	}{
		{"a JPEG photo", filestest.JPEG(64, 48, 1), domain.ContentTypeJPEG},
		{"a PNG", filestest.PNG(32, 32), domain.ContentTypePNG},
		{"a PDF", filestest.PDF(""), domain.ContentTypePDF},
		{"a JPEG followed by a second JPEG (a multi-picture file) and padding", append(append(filestest.JPEG(16, 16, 1), filestest.JPEG(8, 8, 1)...), 0, 0), domain.ContentTypeJPEG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := files.Inspect(tc.data, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.typ {
				t.Errorf("type %s, want %s", got.Type, tc.typ)
			}
		})
	}
}

// TestInspectStripsMetadata: the stored JPEG is encoded anew, without the
// EXIF segment (and its GPS position), and turned upright.
func TestInspectStripsMetadata(t *testing.T) {
	in := filestest.JPEG(64, 48, 6)
	if !bytes.Contains(in, []byte(filestest.GPSMarker)) {
		t.Fatal("the sample holds no GPS marker")
	}
	got, err := files.Inspect(in, 0)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got.Data, []byte(filestest.GPSMarker)) || bytes.Contains(got.Data, []byte("Exif")) {
		t.Error("the stored image still holds its EXIF metadata")
	}
	img, err := jpeg.Decode(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, 48, 64) {
		t.Errorf("bounds %v: orientation 6 must turn the 64x48 photo to 48x64", b)
	}
	if pdf := filestest.PDF(""); !bytes.Equal(mustInspect(t, pdf).Data, pdf) {
		t.Error("a PDF is stored as it came")
	}
}

func mustInspect(t *testing.T, data []byte) files.Content {
	t.Helper()
	c, err := files.Inspect(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestInspectRefuses(t *testing.T) {
	truncated := filestest.PNG(16, 16)
	for _, tc := range []struct {
		name, code, kind, detail string
		data                     []byte
		maxPixels                int
	}{
		{"nothing", files.CodeType, "empty", "empty", nil, 0},
		{"an HTML page", files.CodeType, "type", "text/html", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), 0},
		{"a GIF", files.CodeType, "type", "image/gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 0},
		{"a HEIC photo", files.CodeHEIC, "heic", "convert it to JPEG", filestest.HEIC(), 0},
		{"a PNG with an HTML page appended", files.CodeType, "polyglot", "after its end marker", filestest.PNGWithHTML(), 0},
		{"a PNG with a PDF appended", files.CodeType, "polyglot", "after its end marker", filestest.PNGWithPDF(), 0},
		{"a JPEG that is also a ZIP", files.CodeType, "polyglot", "ZIP archive", filestest.JPEGZip(), 0},
		{"a JPEG with a PDF header in its comment", files.CodeType, "polyglot", "PDF header", jpegWithComment("%PDF-1.4 hidden"), 0},
		{"a PDF with a page appended after %%EOF", files.CodeType, "polyglot", "after its last %%EOF", append(filestest.PDF(""), "<html></html>"...), 0},
		{"a PDF with JavaScript", files.CodeType, "active-content", "/JavaScript", filestest.PDF("/OpenAction 4 0 R", "<< /S /JavaScript /JS (app.alert(1)) >>"), 0},
		{"a PDF with JavaScript spelled with escapes", files.CodeType, "active-content", "/JavaScript", filestest.PDF("/OpenAction 4 0 R", "<< /S /J#61vaScript >>"), 0},
		{"a PDF header on something else", files.CodeType, "damaged", "startxref", []byte("%PDF-1.7\n<html>hello</html>\n%%EOF\n"), 0},
		{"a PDF whose startxref points nowhere", files.CodeType, "damaged", "does not point", bytes.Replace(filestest.PDF(""), []byte("startxref\n"), []byte("startxref\n1"), 1), 0},
		{"a PNG cut short", files.CodeType, "damaged", "cut short", truncated[:len(truncated)-20], 0},
		{"an image with too many pixels", files.CodeTooLarge, "pixels", "megapixels", filestest.PNG(2000, 1000), 1_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := files.Inspect(tc.data, tc.maxPixels)
			var r *files.Refusal
			if !errors.As(err, &r) {
				t.Fatalf("error %v, want a refusal", err)
			}
			if r.RefusalCode() != tc.code || r.Kind != tc.kind || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("refusal %s/%s %q; want %s/%s mentioning %q", r.Code, r.Kind, r.Detail, tc.code, tc.kind, tc.detail)
			}
		})
	}
}

// jpegWithComment puts a COM segment with text right after the JPEG's SOI.
func jpegWithComment(text string) []byte {
	j := filestest.JPEG(16, 16, 1)
	seg := []byte{0xff, 0xfe, byte((len(text) + 2) >> 8), byte(len(text) + 2)}
	return append(append(append([]byte{}, j[:2]...), append(seg, text...)...), j[2:]...)
}

// TestInspectTurnsPhotosUpright: each EXIF orientation puts the photo's
// top-left corner where a viewer would show it.
func TestInspectTurnsPhotosUpright(t *testing.T) {
	// The sample's red grows left to right and its green top to bottom, so
	// the upright image's top-left pixel tells where the stored one went.
	for o, want := range map[int]struct{ w, h, r, g int }{
		1: {64, 48, 0, 0}, 2: {64, 48, 255, 0}, 3: {64, 48, 255, 255}, 4: {64, 48, 0, 255},
		5: {48, 64, 0, 0}, 6: {48, 64, 0, 255}, 7: {48, 64, 255, 255}, 8: {48, 64, 255, 0},
	} {
		got := mustInspect(t, filestest.JPEG(64, 48, o))
		img, err := jpeg.Decode(bytes.NewReader(got.Data))
		if err != nil {
			t.Fatal(err)
		}
		r, g, _, _ := img.At(0, 0).RGBA()
		near := func(a uint32, b int) bool { return int(a>>8)-b < 40 && b-int(a>>8) < 40 }
		if b := img.Bounds(); b.Dx() != want.w || b.Dy() != want.h || !near(r, want.r) || !near(g, want.g) {
			t.Errorf("orientation %d: %dx%d, top-left r=%d g=%d; want %dx%d r~%d g~%d", o, b.Dx(), b.Dy(), r>>8, g>>8, want.w, want.h, want.r, want.g)
		}
	}
}
