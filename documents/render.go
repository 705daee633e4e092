package documents

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/i18n"
)

//go:embed messages/*.json
var messageFiles embed.FS

//go:embed assets/document.html assets/print.css
var assets embed.FS

// The files a deployment may override (Config.Templates): the HTML page's template and its
// stylesheet.
const (
	TemplateFile   = "document.html"
	StylesheetFile = "print.css"
)

// StatusPath is the public status page, which the QR code on every document leads to with the
// claim number filled in: a printed document must not carry a private link, which would let
// anyone who sees the paper act for the customer.
const StatusPath = "/status"

// Company is who issues the documents, printed at their head and foot.
type Company struct {
	Name    string
	Address string
	// Logo is a PNG or JPEG printed at the top right; empty: none.
	Logo []byte
	// Legal is the text printed at the foot of each kind of document; a kind without one
	// prints none.
	Legal map[Kind]string
}

// Config is what a deployment decides about its documents.
type Config struct {
	Company Company
	// PublicURL is the service's public origin (https://rma.example.com); the QR code leads
	// to its status page. Empty: no QR code.
	PublicURL string
	// Templates holds the deployment's own files, each optional: document.html and print.css
	// replace the built-in ones; logo.png or logo.jpg is the logo and legal-<kind>.txt the
	// legal text of a kind (e.g. legal-release.txt) where Company has none. nil: the built-in
	// ones only.
	Templates fs.FS
}

// Renderer renders documents. It is safe for concurrent use.
type Renderer struct {
	cfg  Config
	cat  *i18n.Catalogue[*locale]
	page *template.Template
	css  template.CSS
	logo logo
}

// New loads the catalogues and the templates (the deployment's where it has them), and
// checks that every kind renders in every language.
func New(cfg Config) (*Renderer, error) {
	cat, err := i18n.Load(messageFiles, "messages", func(l *i18n.Locale) *locale { return &locale{Locale: l} })
	if err != nil {
		return nil, err
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("documents: public URL %q: want an origin such as https://rma.example.com", cfg.PublicURL)
		}
		cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	}
	if err := fromTemplates(&cfg); err != nil {
		return nil, err
	}
	r := &Renderer{cfg: cfg, cat: cat}
	if r.logo, err = readLogo(cfg.Company.Logo); err != nil {
		return nil, err
	}
	pageText, err := r.file(TemplateFile)
	if err != nil {
		return nil, err
	}
	if r.page, err = template.New(TemplateFile).Parse(string(pageText)); err != nil {
		return nil, fmt.Errorf("documents: template %s: %w", TemplateFile, err)
	}
	css, err := r.file(StylesheetFile)
	if err != nil {
		return nil, err
	}
	r.css = template.CSS(css)
	// Check's result depends on nothing but these inputs and the embedded catalogues and
	// fonts: a renderer like one that passed before in this process passes again, and
	// rendering its sixty sheets again would only cost seconds at each start.
	inputs := r.inputs(pageText, css)
	if _, ok := checked.Load(inputs); ok {
		return r, nil
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	checked.Store(inputs, struct{}{})
	return r, nil
}

// checked holds the inputs (Renderer.inputs) of the renderers whose Check passed.
var checked sync.Map

// inputs is a digest of everything a renderer's Check depends on besides what is embedded:
// the company, the public URL, the logo and the page's template and stylesheet.
func (r *Renderer) inputs(pageText, css []byte) [sha256.Size]byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(r.cfg.Company.Name))
	field([]byte(r.cfg.Company.Address))
	field(r.cfg.Company.Logo)
	for _, k := range kinds {
		field([]byte(r.cfg.Company.Legal[k]))
	}
	field([]byte(r.cfg.PublicURL))
	field(pageText)
	field(css)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// fromTemplates takes the logo and the legal texts the deployment's directory holds where
// the company's settings give none.
func fromTemplates(cfg *Config) error {
	if cfg.Templates == nil {
		return nil
	}
	read := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(cfg.Templates, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("documents: template %s: %w", name, err)
		}
		return b, nil
	}
	for _, name := range []string{"logo.png", "logo.jpg"} {
		if len(cfg.Company.Logo) > 0 {
			break
		}
		b, err := read(name)
		if err != nil {
			return err
		}
		cfg.Company.Logo = b
	}
	legal := maps.Clone(cfg.Company.Legal)
	if legal == nil {
		legal = map[Kind]string{}
	}
	for _, k := range kinds {
		if legal[k] != "" {
			continue
		}
		b, err := read("legal-" + string(k) + ".txt")
		if err != nil {
			return err
		}
		if text := strings.TrimSpace(string(b)); text != "" {
			legal[k] = text
		}
	}
	cfg.Company.Legal = legal
	return nil
}

// file reads a template file: the deployment's, else the built-in one.
func (r *Renderer) file(name string) ([]byte, error) {
	if r.cfg.Templates != nil {
		b, err := fs.ReadFile(r.cfg.Templates, name)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("documents: template %s: %w", name, err)
		}
	}
	return assets.ReadFile("assets/" + name)
}

// Languages lists the documents' language codes (en, ru, bg, zh-Hans, el).
func (r *Renderer) Languages() []string {
	var out []string
	for _, l := range r.cat.All() {
		out = append(out, l.Code)
	}
	return out
}

// Language returns the documents' code for lang (a code, a regional form such as "ru-RU",
// or an Accept-Language header): the supported language closest to it, English at worst.
func (r *Renderer) Language(lang string) string {
	return r.cat.Pick(lang, lang).Code
}

// Request is one document to render: claim as it stood at a version, of a kind, in a language.
type Request struct {
	Claim domain.State
	Kind  Kind
	// Lang is a language code of Languages; another falls back as Language does.
	Lang string
	// At is when the version came to be (its last event's time): the date the document bears
	// and its PDF's creation date, so that rendering the version again gives the same bytes.
	At time.Time
	// ShipBy is when the customer's goods are due at the service (the shipment window's due
	// time), printed on the authorization; zero: none.
	ShipBy time.Time
	// Location is the time zone of the document's dates (the claim's policy's); nil: UTC.
	Location *time.Location
}

func (r *Renderer) prepare(req Request) (sheet, error) {
	if err := Has(req.Claim, req.Kind); err != nil {
		return sheet{}, err
	}
	if req.At.IsZero() {
		return sheet{}, errors.New("documents: a document needs the time of the version it shows")
	}
	return r.build(req, r.cat.Pick("", req.Lang)), nil
}

// statusURL is the status page with the claim number filled in; "" without a public URL.
func (r *Renderer) statusURL(number string) string {
	if r.cfg.PublicURL == "" {
		return ""
	}
	return r.cfg.PublicURL + StatusPath + "?" + url.Values{"number": {number}}.Encode()
}

func qrPNG(content string) ([]byte, error) {
	png, err := qrcode.Encode(content, qrcode.Medium, 256)
	if err != nil {
		return nil, fmt.Errorf("documents: QR code: %w", err)
	}
	return png, nil
}

// htmlView is what the page template gets.
type htmlView struct {
	sheet
	Stylesheet template.CSS
	QR         template.URL
	Logo       template.URL
}

// HTML renders the document as a printable page (A4 print stylesheet, no script).
func (r *Renderer) HTML(req Request) ([]byte, error) {
	sh, err := r.prepare(req)
	if err != nil {
		return nil, err
	}
	return r.html(sh)
}

func (r *Renderer) html(sh sheet) ([]byte, error) {
	v := htmlView{sheet: sh, Stylesheet: r.css}
	if sh.StatusURL != "" {
		png, err := qrPNG(sh.StatusURL)
		if err != nil {
			return nil, err
		}
		v.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
	if len(r.logo.data) > 0 {
		v.Logo = template.URL("data:" + r.logo.mime + ";base64," + base64.StdEncoding.EncodeToString(r.logo.data))
	}
	var b bytes.Buffer
	if err := r.page.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("documents: template %s, %s, language %s: %w", TemplateFile, sh.Kind, sh.Lang, err)
	}
	return b.Bytes(), nil
}

// PDF renders the document as a PDF with its fonts embedded. The same request gives the same
// bytes.
func (r *Renderer) PDF(req Request) ([]byte, error) {
	sh, err := r.prepare(req)
	if err != nil {
		return nil, err
	}
	return r.pdf(sh, req.At)
}

// Check renders every kind in every language, as a page and as a PDF, for a sample claim: a
// deployment's template that fails is refused at start, named with the language it failed in.
func (r *Renderer) Check() error {
	s := SampleClaim()
	at := s.UpdatedAt
	for _, l := range r.cat.All() {
		for _, k := range kinds {
			sh := r.build(Request{Claim: s, Kind: k, Lang: l.Code, At: at, ShipBy: at.Add(168 * time.Hour)}, l)
			if _, err := r.html(sh); err != nil {
				return err
			}
			if _, err := r.pdf(sh, at); err != nil {
				return fmt.Errorf("documents: PDF of %s, language %s: %w", k, l.Code, err)
			}
		}
	}
	return nil
}

// SampleClaim is a claim that has every kind of document, for checking templates.
func SampleClaim() domain.State {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	eur := func(cents int64) domain.Money { return domain.Money{Amount: cents, Currency: "EUR"} }
	pd, _ := domain.ParseDate("2025-11-20")
	return domain.State{
		ID: uuid.MustParse("00000000-0000-4000-8000-000000000001"), Number: "RMA-2026-000001", Status: domain.StatusClosed, Version: 12,
		Customer:     domain.Customer{Name: "Ivana Petrova", Phone: "+359888123456", Email: "ivana@example.com", Address: "1 Vitosha Blvd, Sofia"},
		Product:      domain.Product{Category: "laptop", Serial: "SN-42-0001", SKU: "NB-15", Description: "Laptop 15\""},
		PurchaseDate: pd, Price: eur(89900), Defect: "Does not charge",
		ProofOfPurchase: &domain.ProofOfPurchase{Kind: domain.ProofInvoice, Reference: "INV-7"},
		RegisteredAt:    at, UpdatedAt: at.Add(240 * time.Hour),
		Authorization: &domain.Authorization{ServiceCenter: domain.ServiceCenter{Name: "Central service", Country: "BG", Address: "5 Tsarigradsko Shose, Sofia"},
			DocumentsRequested: []string{"invoice", "warranty card"}, AuthorizedAt: at.Add(time.Hour)},
		Intake:    &domain.Intake{Condition: "scratched lid", Accessories: []string{"charger"}, SealsIntact: true, Photos: []string{"a", "b"}, ReceivedBy: "desk", ReceivedAt: at.Add(72 * time.Hour)},
		Diagnosis: &domain.Diagnosis{Outcome: domain.OutcomeDefectConfirmed, Findings: "charging port worn", DiagnosedAt: at.Add(96 * time.Hour)},
		Estimate: &domain.Estimate{DamageLevel: 2, Parts: eur(4000), Labour: eur(2500), Shipping: eur(800), Total: eur(7300), IssuedAt: at.Add(97 * time.Hour),
			Decision: domain.EstimateDecisionAccepted, DecidedAt: at.Add(100 * time.Hour)},
		Repair:      &domain.Repair{Where: domain.RepairOwn, Technician: "tech", StartedAt: at.Add(120 * time.Hour), WorkDone: "port replaced", Parts: []string{"USB-C port"}, CompletedAt: at.Add(130 * time.Hour)},
		CreditNotes: []domain.CreditNote{{Number: "CN-1", Amount: eur(1000), Reason: "delay", IssuedAt: at.Add(200 * time.Hour)}},
		Resolution:  &domain.Resolution{Kind: domain.ResolutionRepaired, ResolvedAt: at.Add(130 * time.Hour)},
		Delivery:    &domain.Delivery{SignedBy: "Ivana Petrova", DeliveredAt: at.Add(150 * time.Hour)},
	}
}
