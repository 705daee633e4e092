package documents

import (
	"fmt"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/i18n"
)

// sheet is a document as both renderings see it: every text already in the document's
// language, so that the HTML page and the PDF say the same.
type sheet struct {
	Lang     string
	Kind     Kind
	Title    string
	Company  Company
	Head     []row
	Sections []section
	// Steps are numbered instructions (the authorization's next steps).
	StepsHeading string
	Steps        []string
	Legal        string
	Signatures   []string
	// StatusURL is the public status page for the claim, which the QR code holds.
	StatusURL string
	QRCaption string
	Footer    string
}

type section struct {
	Heading string
	Rows    []row
}

type row struct {
	Label, Value string
	// Strong marks a total.
	Strong bool
}

// locale is one language of the documents with how they write dates and amounts; zone is the
// time zone of the dates (nil: UTC).
type locale struct {
	*i18n.Locale
	zone *time.Location
}

func (l *locale) date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	zone := l.zone
	if zone == nil {
		zone = time.UTC
	}
	return l.Dates.FmtDateLong(t.In(zone))
}

func (l *locale) day(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	t, err := time.Parse(time.DateOnly, d.String())
	if err != nil {
		return d.String()
	}
	return l.Dates.FmtDateLong(t)
}

// money writes an amount the language's way.
func (l *locale) money(m domain.Money) string { return l.Money(m) }

// coded is the text of a stored code (an outcome, a resolution), or the code itself for a
// code newer than the catalogue.
func (l *locale) coded(prefix, code string) string {
	if l.Has(prefix + code) {
		return l.T(prefix + code)
	}
	return code
}

func (l *locale) yesNo(b bool) string {
	if b {
		return l.T("yes")
	}
	return l.T("no")
}

// rows drops the rows without a value: a document shows what the claim holds.
func rows(in ...row) []row {
	out := in[:0:0]
	for _, r := range in {
		if strings.TrimSpace(r.Value) != "" {
			out = append(out, r)
		}
	}
	return out
}

func list(items []string) string { return strings.Join(items, ", ") }

// build lays out the document req asks for in language l. Has(req.Claim, req.Kind) must hold.
func (r *Renderer) build(req Request, l *locale) sheet {
	s, k, issued := req.Claim, req.Kind, req.At
	l = &locale{Locale: l.Locale, zone: req.Location}
	sh := sheet{
		Lang:      l.Code,
		Kind:      k,
		Title:     l.T("title." + string(k)),
		Company:   r.cfg.Company,
		Legal:     r.cfg.Company.Legal[k],
		StatusURL: r.statusURL(s.Number),
		QRCaption: l.T("qr.caption"),
		Footer:    l.T("footer.verify", s.Number, s.Version),
		Head: []row{
			{Label: l.T("head.number"), Value: s.Number},
			{Label: l.T("head.date"), Value: l.date(issued)},
			{Label: l.T("head.version"), Value: fmt.Sprint(s.Version)},
		},
	}
	customer := section{Heading: l.T("section.customer"), Rows: rows(
		row{Label: l.T("label.name"), Value: s.Customer.Name},
		row{Label: l.T("label.phone"), Value: s.Customer.Phone},
		row{Label: l.T("label.email"), Value: s.Customer.Email},
		row{Label: l.T("label.address"), Value: s.Customer.Address},
	)}
	p := s.Product
	item := section{Heading: l.T("section.item"), Rows: rows(
		row{Label: l.T("label.description"), Value: p.Description},
		row{Label: l.T("label.category"), Value: p.Category},
		row{Label: l.T("label.sku"), Value: p.SKU},
		row{Label: l.T("label.serial"), Value: p.Serial},
		row{Label: l.T("label.imei"), Value: p.IMEI},
		row{Label: l.T("label.purchase_date"), Value: l.day(s.PurchaseDate)},
	)}
	if pp := s.ProofOfPurchase; pp != nil {
		item.Rows = append(item.Rows, row{Label: l.T("label.proof"), Value: strings.TrimSpace(pp.Kind + " " + pp.Reference)})
	}
	defect := row{Label: l.T("label.defect"), Value: s.Defect}
	signatures := []string{l.T("sign.customer"), l.T("sign.service")}

	switch k {
	case Authorization:
		a := s.Authorization
		sc := a.ServiceCenter
		item.Rows = append(item.Rows, defect)
		ship := section{Heading: l.T("section.shipping"), Rows: rows(
			row{Label: l.T("label.service_center"), Value: sc.Name},
			row{Label: l.T("label.address"), Value: strings.TrimSpace(sc.Address + " " + sc.Country)},
			row{Label: l.T("label.contact"), Value: sc.Contact},
			row{Label: l.T("label.authorized_at"), Value: l.date(a.AuthorizedAt)},
			row{Label: l.T("label.ship_by"), Value: l.date(req.ShipBy)},
			row{Label: l.T("label.notes"), Value: a.Notes},
		)}
		if a.PaidRepair {
			ship.Rows = append(ship.Rows, row{Label: l.T("label.paid_repair"), Value: l.T("yes")})
		}
		docs := l.T("none")
		if len(a.DocumentsRequested) > 0 {
			docs = list(a.DocumentsRequested)
		}
		sh.Sections = []section{customer, item, ship, {Heading: l.T("section.documents"), Rows: []row{{Label: l.T("section.documents"), Value: docs}}}}
		sh.StepsHeading = l.T("section.next")
		if a.DocumentsFirst {
			sh.Steps = append(sh.Steps, l.T("next.documents_first"))
		}
		sh.Steps = append(sh.Steps, l.T("next.pack"), l.T("next.enclose"), l.T("next.send"), l.T("next.follow"))
		signatures = nil
	case Intake:
		in := s.Intake
		item.Rows = append(item.Rows, defect)
		seals := l.T("seals.broken")
		if in.SealsIntact {
			seals = l.T("seals.intact")
		}
		accessories := l.T("none")
		if len(in.Accessories) > 0 {
			accessories = list(in.Accessories)
		}
		photos := l.T("none")
		if len(in.Photos) > 0 {
			photos = fmt.Sprint(len(in.Photos))
		}
		sh.Sections = []section{customer, item, {Heading: l.T("section.intake"), Rows: rows(
			row{Label: l.T("label.received_at"), Value: l.date(in.ReceivedAt)},
			row{Label: l.T("label.received_by"), Value: in.ReceivedBy},
			row{Label: l.T("label.service_center"), Value: in.ServiceCenter},
			row{Label: l.T("label.condition"), Value: in.Condition},
			row{Label: l.T("label.accessories"), Value: accessories},
			row{Label: l.T("label.seals"), Value: seals},
			row{Label: l.T("label.photos"), Value: photos},
		)}}
	case Release:
		sh.Sections = []section{customer, item, r.outcome(s, l, true)}
		if s.Repair != nil || s.Resolution.Kind == domain.ResolutionReplaced {
			sh.Sections = append(sh.Sections, section{Heading: l.T("label.repair_warranty"), Rows: []row{{Label: l.T("label.repair_warranty"), Value: l.T("repair_warranty.text")}}})
		}
	case Estimate:
		e := s.Estimate
		decision := l.T("decision.pending")
		if e.Decision != "" {
			decision = l.coded("decision.", e.Decision)
			if !e.DecidedAt.IsZero() {
				decision += ", " + l.date(e.DecidedAt)
			}
		}
		item.Rows = append(item.Rows, defect)
		sh.Sections = []section{customer, item, {Heading: l.T("section.estimate"), Rows: rows(
			row{Label: l.T("label.issued_at"), Value: l.date(e.IssuedAt)},
			row{Label: l.T("label.damage_level"), Value: fmt.Sprint(e.DamageLevel)},
			row{Label: l.T("label.description"), Value: e.Description},
			row{Label: l.T("label.parts_cost"), Value: l.money(e.Parts)},
			row{Label: l.T("label.labour"), Value: l.money(e.Labour)},
			row{Label: l.T("label.shipping"), Value: l.money(e.Shipping)},
			row{Label: l.T("label.total"), Value: l.money(e.Total), Strong: true},
			row{Label: l.T("label.decision"), Value: decision},
		)}}
	case ServiceReport:
		item.Rows = append(item.Rows, defect)
		sh.Sections = []section{customer, item}
		if d := s.Diagnosis; d != nil {
			sh.Sections = append(sh.Sections, section{Heading: l.T("section.diagnosis"), Rows: rows(
				row{Label: l.T("label.diagnosed_at"), Value: l.date(d.DiagnosedAt)},
				row{Label: l.T("label.outcome"), Value: l.coded("outcome.", d.Outcome)},
				row{Label: l.T("label.findings"), Value: d.Findings},
			)})
		}
		if rp := s.Repair; rp != nil {
			sh.Sections = append(sh.Sections, section{Heading: l.T("section.work"), Rows: rows(
				row{Label: l.T("label.repair_place"), Value: l.coded("place.", rp.Where)},
				row{Label: l.T("label.technician"), Value: rp.Technician},
				row{Label: l.T("label.started"), Value: l.date(rp.StartedAt)},
				row{Label: l.T("label.completed"), Value: l.date(rp.CompletedAt)},
				row{Label: l.T("label.work_done"), Value: rp.WorkDone},
				row{Label: l.T("label.parts"), Value: list(rp.Parts)},
			)})
		}
		if s.Resolution != nil {
			sh.Sections = append(sh.Sections, r.outcome(s, l, false))
		}
	case CreditNote:
		sh.Sections = []section{customer, item}
		for _, n := range s.CreditNotes {
			sec := section{Heading: l.T("title.credit-note") + " " + n.Number, Rows: rows(
				row{Label: l.T("label.credit_number"), Value: n.Number},
				row{Label: l.T("label.issued_at"), Value: l.date(n.IssuedAt)},
				row{Label: l.T("label.amount"), Value: l.money(n.Amount), Strong: true},
				row{Label: l.T("label.reason"), Value: n.Reason},
			)}
			if n.Cancelled {
				sec.Rows = append(sec.Rows, row{Label: l.T("label.cancelled"), Value: strings.TrimSpace(l.date(n.CancelledAt) + " " + n.CancelReason)})
			}
			sh.Sections = append(sh.Sections, sec)
		}
		signatures = []string{l.T("sign.service")}
	}
	sh.Signatures = signatures
	return sh
}

// outcome is how the claim was resolved and the hand-over; with work, also the cause and the
// work done or the reason for refusal (the service report shows those in sections of their own).
func (r *Renderer) outcome(s domain.State, l *locale, work bool) section {
	sec := section{Heading: l.T("section.outcome")}
	if res := s.Resolution; res != nil {
		sec.Rows = append(sec.Rows,
			row{Label: l.T("label.resolution"), Value: l.coded("resolution.", res.Kind), Strong: true},
			row{Label: l.T("label.resolved_at"), Value: l.date(res.ResolvedAt)})
	}
	var more []row
	if d := s.Diagnosis; d != nil && work {
		label := l.T("label.cause")
		if d.Outcome == domain.OutcomeWarrantyVoid || d.Outcome == domain.OutcomeOutOfWarranty {
			label = l.T("label.refusal")
		}
		more = append(more, row{Label: l.T("label.outcome"), Value: l.coded("outcome.", d.Outcome)}, row{Label: label, Value: d.Findings})
	}
	if s.Rejection != nil {
		more = append(more, row{Label: l.T("label.refusal"), Value: strings.TrimSpace(s.Rejection.ReasonCode + " " + s.Rejection.Reason)})
	}
	if rp := s.Repair; rp != nil && work {
		more = append(more, row{Label: l.T("label.work_done"), Value: rp.WorkDone}, row{Label: l.T("label.parts"), Value: list(rp.Parts)})
	}
	if rp := s.Replacement; rp != nil {
		more = append(more, row{Label: l.T("label.replacement"), Value: strings.TrimSpace(rp.NewSKU + " " + rp.NewSerial)})
	}
	if rf := s.Refund; rf != nil {
		more = append(more, row{Label: l.T("label.refund"), Value: l.money(rf.Approved)})
	}
	if d := s.Delivery; d != nil {
		more = append(more, row{Label: l.T("label.delivered"), Value: l.date(d.DeliveredAt)}, row{Label: l.T("label.signed_by"), Value: d.SignedBy})
	}
	if s.Resolution != nil && !s.Resolution.ReportConfirmedAt.IsZero() {
		more = append(more, row{Label: l.T("label.confirmed"), Value: l.date(s.Resolution.ReportConfirmedAt)})
	}
	sec.Rows = append(sec.Rows, rows(more...)...)
	return sec
}
