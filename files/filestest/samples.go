// Package filestest makes sample uploads for the tests of every package that
// takes files: real JPEG, PNG and PDF files, and the hostile ones an upload
// must refuse.
package filestest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// GPSMarker is text the sample JPEG's EXIF holds, standing for a GPS
// position: a stored file must not contain it.
const GPSMarker = "GPS 42.6977N 23.3219E"

func picture(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

// JPEG is a w x h photo with an EXIF segment that holds GPSMarker and the
// orientation given (1: upright; 6: stored turned left, shown turned right).
func JPEG(w, h, orientation int) []byte {
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, picture(w, h), &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	// A little-endian TIFF with one IFD entry (orientation), then the marker.
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	tiff = binary.LittleEndian.AppendUint16(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.LittleEndian.AppendUint16(tiff, 3)
	tiff = binary.LittleEndian.AppendUint32(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, uint16(orientation))
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	tiff = append(tiff, GPSMarker...)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xff, 0xe1}, binary.BigEndian.AppendUint16(nil, uint16(len(seg)+2))...)
	app1 = append(app1, seg...)
	b := plain.Bytes()
	return append(append(append([]byte{}, b[:2]...), app1...), b[2:]...)
}

// NoisyPNG is a w x h image of noise, which compresses badly: about 4 bytes
// a pixel.
func NoisyPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	x := uint32(2463534242)
	for i := range img.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i] = byte(x)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PNG is a w x h image.
func PNG(w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, picture(w, h)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PDF is a minimal, well-formed one-page PDF: header, objects, a
// cross-reference table whose offsets are right, trailer, startxref, %%EOF.
// extra is put into the catalog dictionary (e.g. "/OpenAction 4 0 R"), and
// more objects may follow the first three.
func PDF(extra string, more ...string) []byte {
	objects := append([]string{
		"<< /Type /Catalog /Pages 2 0 R " + extra + " >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
	}, more...)
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// PNGWithHTML is a PNG with an HTML page appended after its end: a browser
// sniffing it could run the page.
func PNGWithHTML() []byte {
	return append(PNG(8, 8), "<html><script>alert(document.cookie)</script></html>"...)
}

// PNGWithPDF is a PNG with a whole PDF appended after its end.
func PNGWithPDF() []byte { return append(PNG(8, 8), PDF("")...) }

// JPEGZip is a JPEG whose bytes are also a valid ZIP archive: the archive
// is appended, and a ZIP reader finds it from its end.
func JPEGZip() []byte {
	var z bytes.Buffer
	w := zip.NewWriter(&z)
	f, _ := w.Create("payload.html")
	f.Write([]byte("<script>alert(1)</script>"))
	w.Close()
	return append(JPEG(16, 16, 1), z.Bytes()...)
}

// HEIC is the start of a HEIC photo (its file type box): enough to be
// recognised, nothing to decode.
func HEIC() []byte {
	return append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), bytes.Repeat([]byte{0}, 64)...)
}
