package statuspage

import (
	"strconv"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/projections"
)

// result is a claim's status prepared for the page: codes translated, dates
// in the configured zone and the language's format, money in its notation.
type result struct {
	Heading      string // "Claim RMA-2026-000123", in the language
	Number       string
	Phone        string // as typed, only so that the language buttons can ask again
	StatusCode   string
	Status       string
	Updated      stamp
	Next         string
	NextDue      *stamp
	ShipTo       *place
	Documents    []string
	Outstanding  []string // requested documents not yet received
	Manufacturer *place
	Shipments    []shipment
	Estimate     *estimate
	Resolution   string
	Notes        []note
	Timeline     []step
}

// stamp is a moment as a machine (the datetime attribute) and a person read it.
type stamp struct{ ISO, Text string }

type place struct{ Name, Address, Country, Contact string }

type shipment struct {
	Title, Carrier, Tracking string
	Shipped                  stamp
}

type estimate struct {
	DamageLevel                    string
	Parts, Labour, Shipping, Total string
	Description, Decision          string
	Issued                         stamp
}

type note struct {
	Text string
	At   stamp
}

type step struct {
	Text string
	At   stamp
}

func (p *Page) result(loc *locale, v projections.StatusView, phone string) *result {
	at := func(t time.Time) stamp {
		t = t.In(p.cfg.Location)
		return stamp{ISO: t.Format(time.RFC3339), Text: loc.dateTime(t)}
	}
	r := &result{
		// Non-breaking hyphens keep RMA-2026-000123 on one line of a phone's screen.
		Heading:    loc.T("result.heading", strings.ReplaceAll(v.Number, "-", "\u2011")),
		Number:     v.Number,
		Phone:      phone,
		StatusCode: string(v.Status),
		Status:     translated(loc, "status."+string(v.Status), string(v.Status)),
		Updated:    at(v.UpdatedAt),
		Next:       translated(loc, "next."+v.NextStep, ""),
		Documents:  v.DocumentsRequested,
		Resolution: translated(loc, "resolution."+v.Resolution, v.Resolution),
		// The read model lists them only while the claim is open and unresolved.
		Outstanding: v.DocumentsOutstanding,
	}
	if v.NextStepDue != nil {
		due := at(*v.NextStepDue)
		r.NextDue = &due
	}
	// Where to ship matters while the customer still has to ship.
	if v.ShipTo != nil && v.Status == domain.StatusAuthorized {
		r.ShipTo = newPlace(loc, *v.ShipTo)
	} else {
		r.Documents = nil
	}
	if v.ManufacturerServiceCenter != nil && v.Status == domain.StatusRedirected {
		r.Manufacturer = newPlace(loc, *v.ManufacturerServiceCenter)
	}
	for _, s := range []struct {
		key string
		sh  *projections.StatusShipment
	}{{"result.shipment.customer", v.CustomerShipment}, {"result.shipment.return", v.ReturnShipment}} {
		if s.sh != nil {
			r.Shipments = append(r.Shipments, shipment{
				Title: loc.T(s.key), Carrier: s.sh.Carrier, Tracking: s.sh.TrackingNumber, Shipped: at(s.sh.ShippedAt),
			})
		}
	}
	if e := v.Estimate; e != nil {
		est := &estimate{
			Parts: loc.money(e.Parts), Labour: loc.money(e.Labour), Shipping: loc.money(e.Shipping), Total: loc.money(e.Total),
			Description: e.Description, Issued: at(e.IssuedAt),
		}
		if e.DamageLevel > 0 {
			est.DamageLevel = strconv.Itoa(e.DamageLevel)
		}
		switch e.Decision {
		case domain.EstimateDecisionAccepted:
			est.Decision = loc.T("result.estimate.accepted")
		case domain.EstimateDecisionDeclined:
			est.Decision = loc.T("result.estimate.declined")
		default:
			est.Decision = loc.T("result.estimate.pending")
		}
		r.Estimate = est
	}
	for _, n := range v.Notes {
		r.Notes = append(r.Notes, note{Text: n.Text, At: at(n.At)})
	}
	for _, s := range v.Timeline {
		r.Timeline = append(r.Timeline, step{Text: translated(loc, "step."+s.Step, s.Step), At: at(s.At)})
	}
	return r
}

// translated is the text of key, or fallback when the catalogue does not
// know it yet (a status or step added to the read model before its
// translations): the page degrades to the code rather than failing.
func translated(loc *locale, key, fallback string) string {
	if loc.Has(key) {
		return loc.T(key)
	}
	return fallback
}

func newPlace(loc *locale, sc domain.ServiceCenter) *place {
	return &place{Name: sc.Name, Address: sc.Address, Country: loc.country(sc.Country), Contact: sc.Contact}
}
