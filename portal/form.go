package portal

import (
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/projections"
)

// The claim form's fields. honeypot is a field people never see or fill
// (hidden by the stylesheet, skipped by keyboard and screen readers); a
// post that fills it is a robot's.
const (
	fCategory   = "category"
	fSerial     = "serial"
	fSKU        = "sku"
	fPurchased  = "purchase_date"
	fPrice      = "price"
	fCurrency   = "currency"
	fProofKind  = "proof_kind"
	fProofRef   = "proof_reference"
	fProofFile  = "proof_file"
	fDefect     = "defect"
	fPhotos     = "photos"
	fName       = "name"
	fEmail      = "email"
	fPhone      = "phone"
	fLanguage   = "language"
	fConsent    = "consent"
	fKey        = "key"
	honeypot    = "website"
	maxPhotos   = 6
	maxLineSize = 200
	maxTextSize = 4000
)

// claimForm is the form's values and its problems, field -> message.
type claimForm struct {
	Values     map[string]string
	Errors     map[string]string
	Problem    string // a refusal of the whole form
	Summary    []problem
	Key        string
	Categories []option
	Currencies []string
	ProofKinds []option
	Languages  []option
	Uploads    bool
	MaxPhotos  int
	Today      string
}

type option struct{ Value, Text string }

// problem is one line of the form's error summary: the field's label and
// its error, linking to the field.
type problem struct{ Field, Label, Message string }

// formOrder is the claim form's fields in the order the page shows them.
var formOrder = []string{fCategory, fSerial, fSKU, fPurchased, fPrice, fCurrency, fProofKind, fProofRef, fProofFile,
	fDefect, fPhotos, fName, fEmail, fPhone, fLanguage, fConsent}

// summarize lists the form's errors in the page's order.
func (f *claimForm) summarize(loc *locale) {
	f.Summary = nil
	for _, name := range formOrder {
		if msg := f.Errors[name]; msg != "" {
			label := strings.TrimRight(strings.TrimSpace(loc.T("field."+name)), ":.。")
			f.Summary = append(f.Summary, problem{Field: name, Label: label, Message: msg})
		}
	}
}

func (p *Portal) newForm(loc *locale) *claimForm {
	f := &claimForm{
		Values: map[string]string{fLanguage: loc.Code, fCurrency: p.cfg.Currencies[0]}, Errors: map[string]string{},
		Key: uuid.NewString(), Currencies: p.cfg.Currencies, Uploads: p.cfg.Attachments != nil, MaxPhotos: maxPhotos,
		Today: domain.DateOf(p.cfg.Now().In(p.cfg.Location)).String(),
	}
	for _, c := range p.cfg.Categories {
		text := loc.T("category." + c)
		if text == "category."+c {
			text = c
		}
		f.Categories = append(f.Categories, option{c, text})
	}
	for _, k := range []string{domain.ProofReceipt, domain.ProofInvoice, domain.ProofWarrantyCard} {
		f.ProofKinds = append(f.ProofKinds, option{k, loc.T("proof." + k)})
	}
	for _, l := range p.cat.All() {
		f.Languages = append(f.Languages, option{l.Code, l.T("lang.self")})
	}
	return f
}

func (p *Portal) claimForm(c *echo.Context) error {
	loc := p.cat.Pick(c.Request().Header.Get("Accept-Language"), c.QueryParam("lang"))
	return p.render(c, http.StatusOK, loc, "form", "form.title", FormPath, p.newForm(loc))
}

// filed is the page after a registration.
type filed struct {
	Number   string
	URL      string
	Expires  string
	Refusals []string // files that were not taken, with why
}

// fileClaim answers POST /portal/claim.
func (p *Portal) fileClaim(c *echo.Context) error {
	r := c.Request()
	form := r.PostForm
	if r.MultipartForm != nil {
		form = r.MultipartForm.Value
	}
	get := func(name string) string {
		if v := form[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	loc := p.cat.Pick(r.Header.Get("Accept-Language"), get(fLanguage))
	f := p.newForm(loc)
	for _, name := range []string{fCategory, fSerial, fSKU, fPurchased, fPrice, fCurrency, fProofKind, fProofRef, fDefect, fName, fEmail, fPhone, fLanguage, fConsent} {
		f.Values[name] = get(name)
	}
	if k := get(fKey); k != "" {
		if _, err := uuid.Parse(k); err == nil {
			f.Key = k
		}
	}
	again := func(status int) error {
		f.summarize(loc)
		return p.render(c, status, loc, "form", "form.title", FormPath, f)
	}

	if get(honeypot) != "" {
		f.Problem = loc.T("form.refused")
		return again(http.StatusBadRequest)
	}
	email, phone := domain.NormalizeEmail(get(fEmail)), ""
	if candidates := domain.PhoneCandidates(get(fPhone)); len(candidates) > 0 {
		phone = candidates[0]
	}
	if wait, limited := p.limited(c, contactKey("email", email), contactKey("phone", phone)); limited {
		f.Problem = loc.T("error.rate_limited", loc.TimeShort(p.cfg.Now().Add(wait).In(p.cfg.Location)))
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return again(http.StatusTooManyRequests)
	}

	cmd, files := p.check(f, loc, r.MultipartForm)
	ctx := r.Context()
	// Each file is checked before anything is registered, so that a
	// refused one comes back as its field's error with nothing written.
	for _, up := range files {
		field := fPhotos
		if up.step == StepProofOfPurchase {
			field = fProofFile
		}
		if msg := p.checkFile(ctx, loc, up.header); msg != "" && f.Errors[field] == "" {
			f.Errors[field] = up.header.Filename + ": " + msg
		}
	}
	if len(f.Errors) > 0 {
		return again(http.StatusUnprocessableEntity)
	}
	open, err := p.openOnUnit(c, cmd.Product)
	if err != nil {
		return p.unavailable(c, loc, err)
	}
	if open {
		f.Errors[fSerial] = loc.T("error.duplicate")
		return again(http.StatusConflict)
	}
	res, err := p.cfg.Ledger.Register(ctx, cmd, customer("portal-register-"+f.Key))
	var invalid domain.ValidationErrors
	switch {
	case errors.As(err, &invalid):
		for _, fe := range invalid {
			field, key := formField(fe.Field)
			f.Errors[field] = loc.T(key)
		}
		return again(http.StatusUnprocessableEntity)
	case errors.Is(err, ledger.ErrIdempotencyKeyReused):
		// The form's key came with other content: a tampered or replayed
		// form. It is shown again with a fresh key.
		f.Key, f.Problem = uuid.NewString(), loc.T("form.refused")
		return again(http.StatusConflict)
	case err != nil:
		return p.unavailable(c, loc, err)
	}
	claim := res.Claim
	link, u, err := p.issueLink(c, claim.ID, claim.Number, loc.Code)
	if err != nil {
		return p.unavailable(c, loc, err)
	}
	done := filed{Number: claim.Number, URL: u, Expires: loc.date(link.ExpiresAt.In(p.cfg.Location))}
	for _, up := range files {
		if msg := p.attach(c, loc, claim.ID, up.header, up.step); msg != "" {
			done.Refusals = append(done.Refusals, up.header.Filename+": "+msg)
		}
	}
	// The answer holds the link: it must not travel on in a Referer.
	return p.render(c, http.StatusCreated, loc, "filed", "filed.title", FormPath, done)
}

// upload is a file of the form and what it is.
type upload struct {
	header *multipart.FileHeader
	step   string
}

// check validates the form field by field into f.Errors, in the person's
// language, and builds the registration.
func (p *Portal) check(f *claimForm, loc *locale, mf *multipart.Form) (*domain.RegisterClaim, []upload) {
	v, e := f.Values, f.Errors
	fail := func(field, key string, args ...any) {
		if e[field] == "" {
			e[field] = loc.T(key, args...)
		}
	}
	required := func(field string) bool {
		if v[field] == "" {
			fail(field, "error.required")
			return false
		}
		return true
	}
	line := func(field string) {
		if len(v[field]) > maxLineSize || strings.ContainsAny(v[field], "\r\n") {
			fail(field, "error.too_long", maxLineSize)
		}
	}
	cmd := &domain.RegisterClaim{Channel: domain.ChannelWeb}

	if required(fCategory) && !slices.Contains(p.cfg.Categories, v[fCategory]) {
		fail(fCategory, "error.choose")
	}
	cmd.Product.Category = v[fCategory]
	if required(fSerial) {
		line(fSerial)
		if imei, ok := domain.NormalizeIMEI(v[fSerial]); ok {
			cmd.Product.IMEI = imei
		} else {
			cmd.Product.Serial = v[fSerial]
		}
	}
	line(fSKU)
	cmd.Product.SKU = v[fSKU]
	if required(fPurchased) {
		d, err := domain.ParseDate(v[fPurchased])
		switch {
		case err != nil:
			fail(fPurchased, "error.date")
		case d.After(domain.DateOf(p.cfg.Now().In(p.cfg.Location))):
			fail(fPurchased, "error.date_future")
		}
		cmd.PurchaseDate = d
	}
	if !slices.Contains(p.cfg.Currencies, v[fCurrency]) {
		fail(fCurrency, "error.choose")
	} else if required(fPrice) {
		m, err := domain.ParseMoney(strings.ReplaceAll(strings.ReplaceAll(v[fPrice], " ", ""), ",", "."), v[fCurrency])
		if err != nil || m.Amount <= 0 {
			fail(fPrice, "error.price")
		}
		cmd.Price = m
	}
	if v[fProofKind] != "" || v[fProofRef] != "" {
		if required(fProofKind) && !slices.Contains([]string{domain.ProofReceipt, domain.ProofInvoice, domain.ProofWarrantyCard}, v[fProofKind]) {
			fail(fProofKind, "error.choose")
		}
		if required(fProofRef) {
			line(fProofRef)
		}
		cmd.ProofOfPurchase = &domain.ProofOfPurchase{Kind: v[fProofKind], Reference: v[fProofRef]}
	}
	if required(fDefect) && len(v[fDefect]) > maxTextSize {
		fail(fDefect, "error.too_long", maxTextSize)
	}
	cmd.Defect = v[fDefect]
	if required(fName) {
		line(fName)
	}
	if required(fEmail) && !strings.Contains(domain.NormalizeEmail(v[fEmail]), "@") {
		fail(fEmail, "error.email")
	}
	if required(fPhone) && len(domain.PhoneCandidates(v[fPhone])) == 0 {
		fail(fPhone, "error.phone")
	}
	cmd.Customer = domain.Customer{Name: v[fName], Email: v[fEmail], Phone: v[fPhone]}
	if _, ok := p.cat.Exactly(v[fLanguage]); !ok {
		fail(fLanguage, "error.choose")
	}
	if v[fConsent] == "" {
		fail(fConsent, "error.consent")
	}
	// The domain's own rules, for what the checks above do not cover.
	if len(e) == 0 {
		var invalid domain.ValidationErrors
		if errors.As(cmd.Validate(), &invalid) {
			for _, fe := range invalid {
				fail(formField(fe.Field))
			}
		}
	}
	var files []upload
	if p.cfg.Attachments != nil && mf != nil {
		for _, h := range mf.File[fProofFile] {
			files = append(files, upload{h, StepProofOfPurchase})
		}
		photos := mf.File[fPhotos]
		if len(photos) > maxPhotos {
			fail(fPhotos, "error.too_many_photos", maxPhotos)
		}
		for _, h := range photos {
			files = append(files, upload{h, StepDefectPhoto})
		}
	}
	return cmd, files
}

// formField names the form field a domain validation problem is about,
// and the message for it.
func formField(field string) (name, key string) {
	switch {
	case strings.HasPrefix(field, "customer.name"):
		return fName, "error.invalid"
	case strings.HasPrefix(field, "customer.email"):
		return fEmail, "error.email"
	case strings.HasPrefix(field, "customer.phone"):
		return fPhone, "error.phone"
	case field == "product.sku":
		return fSKU, "error.invalid"
	case strings.HasPrefix(field, "product.category"):
		return fCategory, "error.choose"
	case strings.HasPrefix(field, "product."):
		return fSerial, "error.invalid"
	case field == "purchase_date":
		return fPurchased, "error.date"
	case strings.HasPrefix(field, "price"):
		return fPrice, "error.price"
	case strings.HasPrefix(field, "proof_of_purchase"):
		return fProofRef, "error.invalid"
	}
	return fDefect, "error.invalid"
}

// openOnUnit reports whether a claim on the unit is still open: a second
// one is refused, without a word about the first.
func (p *Portal) openOnUnit(c *echo.Context, unit domain.Product) (bool, error) {
	id := unit.Serial
	if id == "" {
		id = unit.IMEI
	}
	page, err := p.cfg.Finder.Search(c.Request().Context(), projections.SearchQuery{Serial: id, Limit: projections.MaxSearchLimit})
	if err != nil {
		return false, err
	}
	for _, s := range page.Items {
		if s.Status != domain.StatusClosed && s.Status != domain.StatusRejected {
			return true, nil
		}
	}
	return false, nil
}

// checkFile has Attachments check a file of the claim form; it returns the
// refusal in the person's language, "" when the file would be taken.
func (p *Portal) checkFile(ctx context.Context, loc *locale, h *multipart.FileHeader) string {
	if h.Size == 0 && h.Filename == "" {
		return ""
	}
	file, err := h.Open()
	if err != nil {
		return loc.T("file.unreadable")
	}
	defer file.Close()
	err = p.cfg.Attachments.CheckCustomerFile(ctx, file)
	var refusal Refusal
	switch {
	case err == nil:
		return ""
	case errors.As(err, &refusal):
		return loc.T(refusal.RefusalCode())
	}
	p.cfg.Logger.ErrorContext(ctx, "portal: checking a customer's file failed", "error", err)
	return loc.T("file.failed")
}

// attach hands one file to Attachments; it returns the refusal in the
// person's language, "" when the file was taken.
func (p *Portal) attach(c *echo.Context, loc *locale, claimID uuid.UUID, h *multipart.FileHeader, step string) string {
	if h.Size == 0 && h.Filename == "" {
		return ""
	}
	file, err := h.Open()
	if err != nil {
		return loc.T("file.unreadable")
	}
	defer file.Close()
	err = p.cfg.Attachments.AttachCustomerFile(c.Request().Context(), claimID, h.Filename, file, step)
	var refusal Refusal
	switch {
	case err == nil:
		return ""
	case errors.As(err, &refusal):
		return loc.T(refusal.RefusalCode())
	}
	p.cfg.Logger.ErrorContext(c.Request().Context(), "portal: storing a customer's file failed", "step", step, "error", err)
	return loc.T("file.failed")
}

// contactKey is what the per-contact limit counts.
func contactKey(kind, value string) string {
	if value == "" {
		return ""
	}
	return kind + ":" + value
}

// expiry formats when a link stops working.
func (p *Portal) expiry(loc *locale, t time.Time) string { return loc.date(t.In(p.cfg.Location)) }
