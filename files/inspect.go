package files

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"regexp"
	"strconv"

	"github.com/rmaledger/rmaledger/domain"
)

// Content is an accepted file: its type, recognised from its bytes, and the
// bytes to store (an image encoded anew, a PDF as it came).
type Content struct {
	Type string
	Data []byte
}

// DefaultMaxPixels bounds an image's width times height (25 megapixels: a
// phone's 24-megapixel photo), so that a small file declaring a huge image
// cannot make the decoder allocate gigabytes, and a photo's decoding stays
// within the service's memory.
const DefaultMaxPixels = 25_000_000

// jpegQuality is the quality images are encoded anew with: visually the
// photo that came, a third of a camera's size.
const jpegQuality = 90

var (
	sigJPEG = []byte{0xff, 0xd8, 0xff}
	sigPNG  = []byte("\x89PNG\r\n\x1a\n")
	sigPDF  = []byte("%PDF-")
)

// Inspect decides whether data may be stored, and how. It accepts JPEG,
// PNG and PDF, recognised from the bytes alone, and refuses (a *Refusal):
//
//   - anything else, naming what it is; HEIC with its own code: no decoder
//     of it exists in pure Go, so it could be neither checked nor cleaned,
//     and the customer is asked for a JPEG instead;
//   - a file that is also another file (a polyglot): a ZIP archive (its
//     directory at the end), a PDF header within the first KiB of an image
//     (where PDF readers look for one), bytes after an image's end marker
//     (a JPEG's or a PNG's), or after a PDF's last %%EOF;
//   - an image larger than maxPixels, or one that does not decode;
//   - a PDF that is not a PDF's structure (header, startxref pointing at a
//     cross-reference, a /Root, %%EOF), or that carries active content
//     (/JavaScript, /JS, /Launch, /EmbeddedFile, /RichMedia, /XFA).
//
// An image is decoded and encoded anew (JPEG as JPEG, turned upright by its
// EXIF orientation; PNG as PNG): whatever else the file held, its metadata
// (an EXIF GPS position, the camera's serial) and anything hidden in it,
// is gone.
func Inspect(data []byte, maxPixels int) (Content, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(data) == 0 {
		return Content{}, refuse(CodeType, "empty", "the file is empty")
	}
	if isHEIF(data) {
		return Content{}, refuse(CodeHEIC, "heic",
			"HEIC/HEIF photos are not accepted: there is no decoder for them in pure Go to check the photo and strip its metadata; "+
				"convert it to JPEG (on an iPhone: Settings > Camera > Formats > Most Compatible) and upload it again")
	}
	if r, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err == nil {
		return Content{}, refuse(CodeType, "polyglot", "the file is also a ZIP archive (%d entries): a file that is two kinds of file at once is refused", len(r.File))
	}
	switch {
	case bytes.HasPrefix(data, sigJPEG):
		return inspectImage(data, domain.ContentTypeJPEG, maxPixels)
	case bytes.HasPrefix(data, sigPNG):
		return inspectImage(data, domain.ContentTypePNG, maxPixels)
	case bytes.HasPrefix(data, sigPDF):
		return inspectPDF(data)
	}
	return Content{}, refuse(CodeType, "type", "the file is %s; only JPEG and PNG images and PDF documents are accepted", describe(data))
}

// describe names what the bytes look like, for a refusal.
func describe(data []byte) string {
	if i := bytes.Index(data[:min(len(data), 1024)], sigPDF); i > 0 {
		return "a PDF with " + strconv.Itoa(i) + " bytes before its header"
	}
	return http.DetectContentType(data)
}

// isHEIF recognises an ISO-BMFF file whose brand is one of HEIF's.
func isHEIF(data []byte) bool {
	if len(data) < 12 || string(data[4:8]) != "ftyp" {
		return false
	}
	switch string(data[8:12]) {
	case "heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1", "avif":
		return true
	}
	return false
}

func inspectImage(data []byte, typ string, maxPixels int) (Content, error) {
	name := "JPEG"
	end, err := jpegEnd(data)
	if typ == domain.ContentTypePNG {
		name = "PNG"
		end, err = pngEnd(data)
	}
	if err != nil {
		return Content{}, err
	}
	if extra := trailing(data[end:], typ); extra > 0 {
		return Content{}, refuse(CodeType, "polyglot", "the %s has %d bytes after its end marker: something else is appended to the image; save it as a plain image and upload it again", name, extra)
	}
	if bytes.Contains(data[:min(len(data), 1024)], sigPDF) {
		return Content{}, refuse(CodeType, "polyglot", "the %s holds a PDF header in its first KiB, where PDF readers look for one: it is an image and a PDF at once", name)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Content{}, refuse(CodeType, "damaged", "the %s does not decode: %v", name, err)
	}
	if pixels := int64(cfg.Width) * int64(cfg.Height); pixels > int64(maxPixels) {
		return Content{}, refuse(CodeTooLarge, "pixels", "the image is %d x %d pixels; at most %d megapixels are accepted", cfg.Width, cfg.Height, maxPixels/1_000_000)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return Content{}, refuse(CodeType, "damaged", "the %s does not decode: %v", name, err)
	}
	var out bytes.Buffer
	if typ == domain.ContentTypeJPEG {
		err = jpeg.Encode(&out, upright(img, exifOrientation(data)), &jpeg.Options{Quality: jpegQuality})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img)
	}
	if err != nil {
		return Content{}, err
	}
	return Content{Type: typ, Data: out.Bytes()}, nil
}

// trailing counts the bytes after an image's end that are neither zero
// padding nor, for a JPEG, further complete JPEG images: a multi-picture
// file (MPF: a camera's preview, a phone's HDR gain map) holds those after
// the first, and encoding the first anew drops them.
func trailing(rest []byte, typ string) int {
	for {
		rest = bytes.TrimLeft(rest, "\x00")
		if typ != domain.ContentTypeJPEG || !bytes.HasPrefix(rest, sigJPEG) {
			return len(rest)
		}
		end, err := jpegEnd(rest)
		if err != nil {
			return len(rest)
		}
		rest = rest[end:]
	}
}

// pngEnd walks the PNG's chunks and returns the offset just past IEND.
func pngEnd(data []byte) (int, error) {
	i := len(sigPNG)
	for i+12 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[i:]))
		kind := string(data[i+4 : i+8])
		next := i + 12 + n
		if n < 0 || next > len(data) || next < i {
			break
		}
		if kind == "IEND" {
			return next, nil
		}
		i = next
	}
	return 0, refuse(CodeType, "damaged", "the PNG is cut short or damaged: no end chunk (IEND) was found")
}

// jpegEnd walks the JPEG's segments and entropy-coded scans and returns the
// offset just past its end marker (EOI).
func jpegEnd(data []byte) (int, error) {
	i := 2
	for i+1 < len(data) {
		if data[i] != 0xff {
			break
		}
		m := data[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0xd9:
			return i + 2, nil
		case m == 0x01 || (m >= 0xd0 && m <= 0xd7):
			i += 2
			continue
		}
		if i+4 > len(data) {
			break
		}
		next := i + 2 + int(binary.BigEndian.Uint16(data[i+2:]))
		if next > len(data) {
			break
		}
		i = next
		if m == 0xda { // a scan: entropy-coded data up to the next marker
			for i+1 < len(data) && (data[i] != 0xff || data[i+1] == 0x00 || (data[i+1] >= 0xd0 && data[i+1] <= 0xd7)) {
				i++
			}
		}
	}
	return 0, refuse(CodeType, "damaged", "the JPEG is cut short or damaged: no end marker was found")
}

var (
	pdfHeader    = regexp.MustCompile(`\A%PDF-(1\.[0-7]|2\.0)[\r\n\s%]`)
	pdfStartXref = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*\z`)
	pdfObject    = regexp.MustCompile(`\A(xref|\d+\s+\d+\s+obj)`)
	pdfName      = regexp.MustCompile(`/[^\s/<>\[\]()%{}]+`)
)

// activePDF are the names of a PDF's active content: scripts, launched
// programs, embedded files and forms that run code.
var activePDF = map[string]bool{
	"/JavaScript": true, "/JS": true, "/Launch": true, "/EmbeddedFile": true, "/EmbeddedFiles": true,
	"/RichMedia": true, "/XFA": true,
}

// inspectPDF checks the structure a PDF reader relies on; the document is
// stored as it came (it is not rendered anew: no pure-Go library among the
// project's approved modules does that).
func inspectPDF(data []byte) (Content, error) {
	if !pdfHeader.Match(data) {
		return Content{}, refuse(CodeType, "damaged", "the file starts like a PDF but has no valid header (%%PDF-1.0 to %%PDF-2.0)")
	}
	eof := bytes.LastIndex(data, []byte("%%EOF"))
	if eof < 0 {
		return Content{}, refuse(CodeType, "damaged", "the PDF is cut short: it has no %%%%EOF marker")
	}
	if extra := len(bytes.TrimRight(data[eof+5:], "\r\n\t \x00")); extra > 0 {
		return Content{}, refuse(CodeType, "polyglot", "the PDF has %d bytes after its last %%%%EOF: something else is appended to the document", extra)
	}
	m := pdfStartXref.FindSubmatch(data[max(0, eof-64) : eof+5])
	if m == nil {
		return Content{}, refuse(CodeType, "damaged", "the PDF has no startxref before its %%%%EOF")
	}
	offset, err := strconv.Atoi(string(m[1]))
	if err != nil || offset <= 0 || offset >= len(data) || !pdfObject.Match(data[offset:]) {
		return Content{}, refuse(CodeType, "damaged", "the PDF's startxref (%s) does not point at its cross-reference", m[1])
	}
	if !bytes.Contains(data, []byte("/Root")) {
		return Content{}, refuse(CodeType, "damaged", "the PDF has no document catalog (/Root)")
	}
	for _, name := range pdfName.FindAll(data, -1) {
		if n := unescapeName(name); activePDF[n] {
			return Content{}, refuse(CodeType, "active-content", "the PDF carries active content (%s); print it to a new PDF and upload that", n)
		}
	}
	return Content{Type: domain.ContentTypePDF, Data: data}, nil
}

// unescapeName decodes a PDF name's #xx escapes (/J#61vaScript is
// /JavaScript).
func unescapeName(name []byte) string {
	if !bytes.ContainsRune(name, '#') {
		return string(name)
	}
	var out []byte
	for i := 0; i < len(name); i++ {
		if name[i] == '#' && i+2 < len(name) {
			if v, err := strconv.ParseUint(string(name[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, name[i])
	}
	return string(out)
}
