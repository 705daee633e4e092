package documents

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
)

// fonts are embedded in every PDF (subset to the characters it uses), so that Cyrillic,
// Greek and Chinese print on any machine: DejaVu Sans for Latin, Cyrillic and Greek, Droid
// Sans Fallback for Chinese. Their licences are in fonts/.
//
//go:embed fonts/DejaVuSans.ttf fonts/DejaVuSans-Bold.ttf fonts/DroidSansFallback.ttf
var fontFiles embed.FS

const (
	sansFamily = "DejaVuSans"
	cjkFamily  = "DroidSansFallback"
)

// The page: A4, in millimetres.
const (
	pageWidth   = 210.0
	margin      = 16.0
	labelWidth  = 52.0
	lineHeight  = 5.2
	bodySize    = 10.0
	qrSize      = 28.0
	bottomLimit = 297.0 - 14.0
)

type logo struct {
	data []byte
	mime string
	kind string // fpdf's image type
}

func readLogo(data []byte) (logo, error) {
	if len(data) == 0 {
		return logo{}, nil
	}
	switch mime := http.DetectContentType(data); mime {
	case "image/png":
		return logo{data, mime, "PNG"}, nil
	case "image/jpeg":
		return logo{data, mime, "JPG"}, nil
	default:
		return logo{}, fmt.Errorf("documents: the logo is %s; want a PNG or JPEG image", mime)
	}
}

// isCJK reports whether r is printed with the Chinese font.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef) ||
		unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// runs splits text into runs each printed in one font.
func runs(text string) []string {
	var out []string
	start, cjk := 0, false
	for i, r := range text {
		c := isCJK(r)
		if i > start && c != cjk {
			out = append(out, text[start:i])
			start = i
		}
		cjk = c
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// writer prints a sheet onto an fpdf document.
type writer struct {
	pdf *fpdf.Fpdf
	cjk bool // the Chinese font is loaded
}

// text prints text from the current position, wrapping within the margins, switching fonts
// between runs of Chinese and other text.
func (w *writer) text(h float64, text string, bold bool, size float64) {
	for _, run := range runs(text) {
		r, _ := firstRune(run)
		switch {
		case isCJK(r) && w.cjk:
			w.pdf.SetFont(cjkFamily, "", size)
		case bold:
			w.pdf.SetFont(sansFamily, "B", size)
		default:
			w.pdf.SetFont(sansFamily, "", size)
		}
		w.pdf.Write(h, run)
	}
}

func firstRune(s string) (rune, bool) {
	for _, r := range s {
		return r, true
	}
	return 0, false
}

// block prints text in the column from x to right, starting at y, and returns where it ended.
func (w *writer) block(x, right, y float64, text string, bold bool, size float64) float64 {
	w.pdf.SetLeftMargin(x)
	w.pdf.SetRightMargin(pageWidth - right)
	w.pdf.SetXY(x, y)
	lines := strings.Split(text, "\n")
	h := size * 0.45
	for i, line := range lines {
		w.text(h, line, bold, size)
		if i < len(lines)-1 {
			w.pdf.Ln(h)
		}
	}
	end := w.pdf.GetY() + h
	w.pdf.SetLeftMargin(margin)
	w.pdf.SetRightMargin(margin)
	return end
}

// room starts a new page when less than need millimetres are left.
func (w *writer) room(need float64) {
	if w.pdf.GetY()+need > bottomLimit {
		w.pdf.AddPage()
	}
}

// rows prints label and value pairs, the values up to right.
func (w *writer) rows(rs []row, right float64) {
	for _, r := range rs {
		w.room(2 * lineHeight)
		y := w.pdf.GetY()
		w.pdf.SetTextColor(80, 80, 80)
		endLabel := w.block(margin, margin+labelWidth-3, y, r.Label, false, bodySize-1)
		w.pdf.SetTextColor(0, 0, 0)
		endValue := w.block(margin+labelWidth, right, y, r.Value, r.Strong, bodySize)
		w.pdf.SetY(max(endLabel, endValue) + 0.8)
	}
}

func (w *writer) heading(text string) {
	w.room(4 * lineHeight)
	w.pdf.Ln(2)
	y := w.pdf.GetY()
	end := w.block(margin, pageWidth-margin, y, text, true, bodySize+2)
	w.pdf.SetDrawColor(150, 150, 150)
	w.pdf.Line(margin, end+0.5, pageWidth-margin, end+0.5)
	w.pdf.SetY(end + 2)
}

// allText is every text of the sheet, to tell which fonts it needs.
func (sh sheet) allText() string {
	var b strings.Builder
	add := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
		}
	}
	add(sh.Title, sh.Company.Name, sh.Company.Address, sh.StepsHeading, sh.Legal, sh.QRCaption, sh.Footer)
	add(sh.Steps...)
	add(sh.Signatures...)
	for _, r := range sh.Head {
		add(r.Label, r.Value)
	}
	for _, s := range sh.Sections {
		add(s.Heading)
		for _, r := range s.Rows {
			add(r.Label, r.Value)
		}
	}
	return b.String()
}

func (r *Renderer) pdf(sh sheet, at time.Time) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	// A fixed date, sorted catalogues and compressed streams: the same sheet gives the same
	// bytes.
	pdf.SetCreationDate(at.UTC())
	pdf.SetModificationDate(at.UTC())
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetProducer("RMA Ledger", true)
	pdf.SetCreator("RMA Ledger", true)
	pdf.SetTitle(sh.Title+" "+sh.Head[0].Value, true)
	pdf.SetAuthor(sh.Company.Name, true)
	pdf.SetLang(sh.Lang)
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, 297-bottomLimit)
	for _, f := range []struct{ family, style, file string }{
		{sansFamily, "", "fonts/DejaVuSans.ttf"},
		{sansFamily, "B", "fonts/DejaVuSans-Bold.ttf"},
	} {
		data, _ := fontFiles.ReadFile(f.file)
		pdf.AddUTF8FontFromBytes(f.family, f.style, data)
	}
	w := &writer{pdf: pdf}
	if strings.IndexFunc(sh.allText(), isCJK) >= 0 {
		data, _ := fontFiles.ReadFile("fonts/DroidSansFallback.ttf")
		pdf.AddUTF8FontFromBytes(cjkFamily, "", data)
		w.cjk = true
	}
	// Every page names the claim and counts the pages, so that a loose page is placed.
	pdf.AliasNbPages("")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-11)
		pdf.SetFont(sansFamily, "", bodySize-3)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 4, fmt.Sprintf("%s · %d/{nb}", sh.Head[0].Value, pdf.PageNo()), "", 0, "R", false, 0, "")
	})
	pdf.AddPage()

	// The head: the company at the left, its logo at the right, the QR code to the status
	// page beside the title.
	top := margin
	if r.logo.kind != "" {
		pdf.RegisterImageOptionsReader("logo", fpdf.ImageOptions{ImageType: r.logo.kind}, bytes.NewReader(r.logo.data))
		pdf.ImageOptions("logo", pageWidth-margin-qrSize, top, 0, 14, false, fpdf.ImageOptions{ImageType: r.logo.kind}, 0, "")
	}
	right := pageWidth - margin - qrSize - 4
	y := w.block(margin, right, top, sh.Company.Name, true, bodySize+2)
	if sh.Company.Address != "" {
		y = w.block(margin, right, y, sh.Company.Address, false, bodySize-1)
	}
	y = w.block(margin, right, y+6, sh.Title, true, 18)
	if sh.StatusURL != "" {
		png, err := qrPNG(sh.StatusURL)
		if err != nil {
			return nil, err
		}
		opts := fpdf.ImageOptions{ImageType: "PNG"}
		pdf.RegisterImageOptionsReader("qr", opts, bytes.NewReader(png))
		pdf.ImageOptions("qr", pageWidth-margin-qrSize, y-4, qrSize, qrSize, false, opts, 0, "")
	}
	pdf.SetY(y + 3)
	w.rows(sh.Head, right)
	pdf.SetY(max(pdf.GetY(), y-4+qrSize))

	for _, s := range sh.Sections {
		w.heading(s.Heading)
		w.rows(s.Rows, pageWidth-margin)
	}
	if len(sh.Steps) > 0 {
		w.heading(sh.StepsHeading)
		for i, step := range sh.Steps {
			w.room(2 * lineHeight)
			y := pdf.GetY()
			w.block(margin, margin+8, y, fmt.Sprintf("%d.", i+1), true, bodySize)
			pdf.SetY(w.block(margin+8, pageWidth-margin, y, step, false, bodySize) + 1)
		}
	}

	// The foot: signatures, the QR code, the legal text and how to verify the paper.
	if len(sh.Signatures) > 0 {
		w.room(24)
		pdf.Ln(12)
		y := pdf.GetY()
		width := (pageWidth - 2*margin - 10) / float64(len(sh.Signatures))
		for i, label := range sh.Signatures {
			x := margin + float64(i)*(width+10)
			pdf.SetDrawColor(0, 0, 0)
			pdf.Line(x, y, x+width, y)
			w.block(x, x+width, y+1, label, false, bodySize-1)
		}
		pdf.SetY(y + 7)
	}
	if sh.StatusURL != "" {
		w.room(3 * lineHeight)
		pdf.SetTextColor(0, 0, 0)
		pdf.SetY(w.block(margin, pageWidth-margin, pdf.GetY()+2, sh.QRCaption+": "+sh.StatusURL, false, bodySize-2) + 1)
	}
	if sh.Legal != "" {
		w.room(3 * lineHeight)
		pdf.SetY(w.block(margin, pageWidth-margin, pdf.GetY()+2, sh.Legal, false, bodySize-2) + 1)
	}
	w.room(2 * lineHeight)
	pdf.SetTextColor(90, 90, 90)
	w.block(margin, pageWidth-margin, pdf.GetY()+2, sh.Footer, false, bodySize-2)

	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("documents: PDF: %w", err)
	}
	if out.Len() == 0 {
		return nil, errors.New("documents: PDF: empty output")
	}
	return out.Bytes(), nil
}
