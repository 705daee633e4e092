package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"reflect"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/documents"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/ledger"
)

// Documents prints a claim's documents and checks a printed one against the ledger;
// *documents.Service is one.
type Documents interface {
	HTML(ctx context.Context, claimID uuid.UUID, kind documents.Kind, version int64, lang string) ([]byte, documents.Version, error)
	Issue(ctx context.Context, claimID uuid.UUID, kind documents.Kind, version int64, lang, actor, role string) ([]byte, documents.Issued, error)
	LanguageFor(ctx context.Context, claimID uuid.UUID, asked, acceptLanguage string) string
	Check(ctx context.Context, file []byte) (documents.Match, error)
}

// Paths of the documents' screens.
const (
	// DocumentCheckPath is the auditor's page where a printed document is checked.
	DocumentCheckPath = Prefix + "/audit/documents"
	// maxCheckedFile bounds the file an auditor uploads: the documents are far smaller.
	maxCheckedFile = 4 << 20
)

// documentsTemplate is the claim page's documents section; without Documents it is empty.
const documentsTemplate = "claim-documents"

func init() {
	funcs["claimDocuments"] = claimDocumentsOf
}

// parseDocuments adds the documents section to the claim page's templates.
func (s *console) parseDocuments(t *template.Template) error {
	if s.cfg.Documents == nil {
		_, err := t.New(documentsTemplate).Parse("")
		return err
	}
	_, err := t.ParseFS(assets, "assets/documents.html")
	return err
}

// mountDocuments adds the print route and the auditor's check page.
func (s *console) mountDocuments(g *echo.Group, base *template.Template) error {
	if s.cfg.Documents == nil {
		return nil
	}
	t, err := base.Clone()
	if err != nil {
		return err
	}
	if s.pages["documentcheck"], err = t.ParseFS(assets, "assets/documentcheck.html"); err != nil {
		return err
	}
	// The audit trail leads to the check.
	if trail, ok := s.pages["audit"]; ok {
		if _, err := trail.New("audit-documents-link").Parse(`<p><a href="` + DocumentCheckPath + `">{{.T "documents.check.nav"}}</a></p>`); err != nil {
			return err
		}
	}
	g.GET("/claims/:id/documents", s.printDocument, s.signedIn, s.onlyIf(mayRead))
	g.GET("/audit/documents", s.documentCheckForm, s.signedIn, s.onlyIf(mayAudit))
	g.POST("/audit/documents", s.checkDocument, s.signedIn, s.onlyIf(mayAudit))
	return nil
}

// documentsView is the claim page's documents section: the kinds the claim has.
type documentsView struct {
	Href  string
	Kinds []string
}

// claimDocumentsOf gives the documents section of a claim page's data (its State field).
func claimDocumentsOf(data any) documentsView {
	var st domain.State
	if d, ok := data.(claimWithUpload); ok {
		st = d.State
	} else if v := reflect.Indirect(reflect.ValueOf(data)); v.Kind() == reflect.Struct {
		if f := v.FieldByName("State"); f.IsValid() && f.CanInterface() {
			st, _ = f.Interface().(domain.State)
		}
	}
	v := documentsView{Href: fmt.Sprintf("%s/claims/%s/documents", Prefix, st.ID)}
	for _, k := range documents.Available(st) {
		v.Kinds = append(v.Kinds, string(k))
	}
	return v
}

// printDocument serves a claim's document: the PDF (issued, so recorded in the ledger) or the
// page to print, in the language chosen, else the claim's.
func (s *console) printDocument(c *echo.Context) error {
	id, ok := claimIDParam(c)
	kind, known := documents.ParseKind(c.QueryParam("kind"))
	if !ok || !known {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	ctx := c.Request().Context()
	// The claim must be one the person may see (a partner's organisation's).
	if _, _, err := s.cfg.Commands.Claim(ctx, id); errors.Is(err, ledger.ErrNotFound) {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	} else if err != nil {
		return s.fail(c, err)
	}
	lang := s.cfg.Documents.LanguageFor(ctx, id, c.QueryParam("lang"), "")
	var notYet *documents.NotYetError
	h := c.Response().Header()
	if c.QueryParam("format") == "html" {
		page, _, err := s.cfg.Documents.HTML(ctx, id, kind, 0, lang)
		if errors.As(err, &notYet) {
			return s.refuse(c, http.StatusConflict, "documents.not-yet")
		} else if err != nil {
			return s.fail(c, err)
		}
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		return c.HTMLBlob(http.StatusOK, page)
	}
	p := personOf(c)
	pdf, issued, err := s.cfg.Documents.Issue(ctx, id, kind, 0, lang, p.Name, p.Role)
	if errors.As(err, &notYet) {
		return s.refuse(c, http.StatusConflict, "documents.not-yet")
	} else if err != nil {
		return s.fail(c, err)
	}
	h.Set("Content-Disposition", api.ContentDisposition(fmt.Sprintf("%s-%s-v%d-%s.pdf", issued.Number, kind, issued.Version, lang)))
	return c.Blob(http.StatusOK, "application/pdf", pdf)
}

// checkView is the auditor's check page: the form, and after a check its answer.
type checkView struct {
	Checked bool
	Problem string // a message key
	Match   *documents.Match
	Href    string // the matched claim's audit page
}

func (s *console) documentCheckForm(c *echo.Context) error {
	return s.render(c, http.StatusOK, "documentcheck", "documents.check.title", checkView{})
}

// checkDocument takes the uploaded file and says which issued document it is, or that it is
// none. It reads and writes nothing but the answer.
func (s *console) checkDocument(c *echo.Context) error {
	header, err := c.FormFile("file")
	if err != nil {
		return s.render(c, http.StatusUnprocessableEntity, "documentcheck", "documents.check.title", checkView{Problem: "documents.check.missing"})
	}
	f, err := header.Open()
	if err != nil {
		return s.fail(c, err)
	}
	defer f.Close()
	file, err := io.ReadAll(io.LimitReader(f, maxCheckedFile+1))
	if err != nil {
		return s.fail(c, err)
	}
	if len(file) > maxCheckedFile {
		return s.render(c, http.StatusUnprocessableEntity, "documentcheck", "documents.check.title", checkView{Problem: "documents.check.too-large"})
	}
	m, err := s.cfg.Documents.Check(c.Request().Context(), file)
	switch {
	case errors.Is(err, documents.ErrNoMatch):
		return s.render(c, http.StatusOK, "documentcheck", "documents.check.title", checkView{Checked: true})
	case err != nil:
		return s.fail(c, err)
	}
	href := AuditPath + "/claims/" + m.Issued.ClaimID.String() + "?version=" + strconv.FormatInt(m.Issued.Version, 10)
	return s.render(c, http.StatusOK, "documentcheck", "documents.check.title", checkView{Checked: true, Match: &m, Href: href})
}
