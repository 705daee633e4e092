package api

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/documents"
)

// ClaimDocuments renders a claim's documents and records the PDFs it issues
// (documents.Service).
type ClaimDocuments interface {
	HTML(ctx context.Context, claimID uuid.UUID, kind documents.Kind, version int64, lang string) ([]byte, documents.Version, error)
	Issue(ctx context.Context, claimID uuid.UUID, kind documents.Kind, version int64, lang, actor, role string) ([]byte, documents.Issued, error)
	LanguageFor(ctx context.Context, claimID uuid.UUID, asked, acceptLanguage string) string
}

// documentsRoute serves a claim's document as a PDF (issued and recorded) or a printable page.
const documentsRoute = "/claims/:id/documents/:kind"

func (s *server) registerDocuments(v1 *echo.Group) {
	v1.GET(documentsRoute, s.getDocument, require(PermReadClaims))
}

// documentProblem maps the documents' refusals.
func documentProblem(err error) *Problem {
	var notYet *documents.NotYetError
	switch {
	case errors.As(err, &notYet):
		return newProblem(http.StatusConflict, "document-not-available", "The claim has no such document yet", notYet.Reason)
	case errors.Is(err, documents.ErrNoSuchVersion):
		return newProblem(http.StatusNotFound, "version-not-found", "The claim has no such version", err.Error())
	}
	return nil
}

// getDocument answers GET /v1/claims/{id}/documents/{kind}: application/pdf or text/html by
// ?format= or Accept, at ?version= (default the current one), in ?lang= (default the
// claim's language, else Accept-Language's). Serving the PDF issues it: the ledger records
// its SHA-256, so that the paper can be checked against the ledger.
func (s *server) getDocument(c *echo.Context) error {
	if s.cfg.Documents == nil {
		return newProblem(http.StatusNotImplemented, "documents-unavailable", "This deployment prints no documents", "the service runs without documents")
	}
	id, err := claimID(c)
	if err != nil {
		return err
	}
	kind, ok := documents.ParseKind(c.Param("kind"))
	if !ok {
		return newProblem(http.StatusNotFound, "document-kind-not-found", "No such kind of document", "kinds: "+kindList())
	}
	var version int64
	if raw := c.QueryParam("version"); raw != "" {
		if version, err = strconv.ParseInt(raw, 10, 64); err != nil || version < 1 {
			return badRequest("invalid-version", "version must be a claim version, a whole number from 1")
		}
	}
	format, err := documentFormat(c.QueryParam("format"), c.Request().Header.Get("Accept"))
	if err != nil {
		return err
	}
	r := c.Request()
	lang := s.cfg.Documents.LanguageFor(r.Context(), id, c.QueryParam("lang"), r.Header.Get("Accept-Language"))
	h := c.Response().Header()
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Language", lang)
	if format == "html" {
		page, v, err := s.cfg.Documents.HTML(r.Context(), id, kind, version, lang)
		if err != nil {
			return err
		}
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		h.Set("X-Claim-Version", strconv.FormatInt(v.State.Version, 10))
		return c.HTMLBlob(http.StatusOK, page)
	}
	actor := actorOf(c)
	pdf, issued, err := s.cfg.Documents.Issue(r.Context(), id, kind, version, lang, actor.Name, actor.Role)
	if err != nil {
		return err
	}
	h.Set("Content-Disposition", ContentDisposition(fmt.Sprintf("%s-%s-v%d-%s.pdf", issued.Number, kind, issued.Version, lang)))
	h.Set("X-Claim-Version", strconv.FormatInt(issued.Version, 10))
	h.Set("Digest", "sha-256="+issued.SHA256)
	return c.Blob(http.StatusOK, "application/pdf", pdf)
}

func kindList() string {
	var names []string
	for _, k := range documents.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// documentFormat is "pdf" or "html": ?format= when given, else the better of the two by the
// Accept header's weights (PDF on a tie or without Accept).
func documentFormat(asked, accept string) (string, error) {
	switch asked {
	case "pdf", "html":
		return asked, nil
	case "":
	default:
		return "", badRequest("invalid-format", "format must be pdf or html")
	}
	if strings.TrimSpace(accept) == "" {
		return "pdf", nil
	}
	best := map[string]float64{"pdf": -1, "html": -1}
	for _, part := range strings.Split(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if raw, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(raw, 64); err != nil {
				continue
			}
		}
		for format, types := range map[string][]string{"pdf": {"application/pdf", "application/*", "*/*"}, "html": {"text/html", "text/*", "*/*"}} {
			for i, t := range types {
				// An exact type outranks a wildcard of the same weight.
				if mediaType == t && q > 0 {
					best[format] = max(best[format], q-float64(i)*1e-6)
				}
			}
		}
	}
	switch {
	case best["pdf"] < 0 && best["html"] < 0:
		return "", newProblem(http.StatusNotAcceptable, "not-acceptable", "Documents are application/pdf or text/html", "ask for one of them in Accept, or with ?format=pdf|html")
	case best["html"] > best["pdf"]:
		return "html", nil
	}
	return "pdf", nil
}
