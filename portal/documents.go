package portal

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/documents"
	"github.com/rmaledger/rmaledger/domain"
)

// Documents issues a claim's documents as PDFs; *documents.Service is one. The customer gets
// the documents meant for them (documents.Kind.ForCustomer) through the private link, each
// issued, so recorded in the ledger, when it is served.
type Documents interface {
	Issue(ctx context.Context, claimID uuid.UUID, kind documents.Kind, version int64, lang, actor, role string) ([]byte, documents.Issued, error)
}

// documentLink is one document the claim page offers.
type documentLink struct{ Name, Href string }

// customerDocuments are the documents of the customer's that the claim has now.
func (p *Portal) customerDocuments(loc *locale, s domain.State, action string) []documentLink {
	if p.cfg.Documents == nil {
		return nil
	}
	var out []documentLink
	for _, k := range documents.Available(s) {
		if k.ForCustomer() {
			out = append(out, documentLink{Name: loc.T("document." + string(k)), Href: action + "/documents/" + string(k) + "?lang=" + loc.Code})
		}
	}
	return out
}

// document answers GET /portal/c/{token}/documents/{kind}: the PDF in the page's language.
func (p *Portal) document(c *echo.Context) error {
	link, state, loc, err := p.opened(c)
	if link.ClaimID == uuid.Nil {
		return err
	}
	kind, ok := documents.ParseKind(c.Param("kind"))
	if !ok || !kind.ForCustomer() || documents.Has(state, kind) != nil {
		return p.render(c, http.StatusNotFound, loc, "refused", "refused.title", c.Request().URL.Path, loc.T("refused.no_document"))
	}
	pdf, issued, err := p.cfg.Documents.Issue(c.Request().Context(), link.ClaimID, kind, 0, loc.Code, CustomerActor, RoleCustomer)
	if err != nil {
		return p.unavailable(c, loc, err)
	}
	c.Response().Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.pdf"`, issued.Number, kind))
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, "application/pdf", pdf)
}
