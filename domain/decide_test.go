package domain_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// gwt is one given/when/then case: given a history, when a command is decided at whenAt, then
// exactly these events, or an error. check inspects the state folded from given+then.
type gwt struct {
	name    string
	given   []domain.Event
	when    domain.Command
	then    []domain.Event
	err     error    // sentinel the error must match with errors.Is
	invalid bool     // the error is an InvalidTransitionError from the given status
	reason  string   // ... whose Reason contains this
	fields  []string // the error is ValidationErrors naming exactly these fields
	check   func(t *testing.T, s domain.State)
	policy  *domain.Policy // decided under this policy instead of the fixtures' default
}

func run(t *testing.T, cases []gwt) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := policy
			if tc.policy != nil {
				p = *tc.policy
			}
			got, err := domain.Decide(domain.Fold(tc.given), tc.when, whenAt, p)
			wantErr := tc.err != nil || tc.invalid || tc.fields != nil
			switch {
			case !wantErr && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case wantErr && err == nil:
				t.Fatalf("no error; events %#v", got)
			case wantErr && got != nil:
				t.Fatalf("events %#v along with error %v", got, err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("error %v, want %v", err, tc.err)
			}
			if tc.invalid {
				var ite domain.InvalidTransitionError // a value target works as well as a pointer
				switch {
				case !errors.As(err, &ite):
					t.Errorf("error %v, want an InvalidTransitionError", err)
				case ite.From != domain.Fold(tc.given).Status || ite.Action != tc.when.Action():
					t.Errorf("error names %s from %s", ite.Action, ite.From)
				case !strings.Contains(ite.Reason, tc.reason):
					t.Errorf("reason %q, want it to mention %q", ite.Reason, tc.reason)
				}
			}
			if tc.fields != nil {
				var ve domain.ValidationErrors
				if !errors.As(err, &ve) {
					t.Fatalf("error %v, want ValidationErrors", err)
				}
				var fields []string
				for _, f := range ve {
					fields = append(fields, f.Field)
				}
				if !slices.Equal(fields, tc.fields) {
					t.Errorf("fields %v, want %v (%v)", fields, tc.fields, err)
				}
			}
			if wantErr {
				return
			}
			if tc.then != nil && !reflect.DeepEqual(got, tc.then) {
				t.Errorf("events\n got %#v\nwant %#v", got, tc.then)
			}
			if tc.check != nil {
				tc.check(t, domain.Fold(with(tc.given, got...)))
			}
		})
	}
}

func TestRegister(t *testing.T) {
	withIMEI := registration()
	withIMEI.Product = domain.Product{Category: "phone", IMEI: "49-015420-323751-8"}
	withIMEI.Customer.Name = "  Ivan Petrov "
	withIMEI.ProofOfPurchase = nil

	future := registration()
	future.PurchaseDate = domain.DateOf(whenAt.AddDate(0, 0, 1))

	empty := &domain.RegisterClaim{ClaimID: claimID, Number: "RMA-1"}
	blankSerial := registration()
	blankSerial.Product.Serial = "   "

	bad := registration()
	bad.Customer.Phone = "call after 6"
	bad.Customer.Email = "ivan at example"
	bad.Product.Category = "Laptop"
	bad.Product.IMEI = "490154203237517"
	bad.ProofOfPurchase = &domain.ProofOfPurchase{Kind: "photo"}
	bad.Price = money("0", "EUR")
	bad.Channel = "fax"

	run(t, []gwt{
		{
			name: "normalises phone and IMEI, trims names",
			when: withIMEI,
			then: []domain.Event{domain.ClaimRegistered{
				ClaimID:      claimID,
				Number:       "RMA-2026-000042",
				Customer:     domain.Customer{Name: "Ivan Petrov", Phone: "+359881234567", Email: "ivan@example.bg"},
				Product:      domain.Product{Category: "phone", IMEI: "490154203237518"},
				PurchaseDate: date("2025-11-20"),
				Price:        eur("129.90"),
				Defect:       "Does not power on.",
				Channel:      domain.ChannelWeb,
				At:           whenAt,
			}},
			check: func(t *testing.T, s domain.State) {
				if s.ID != claimID || s.Status != domain.StatusRegistered || s.Version != 1 || !s.RegisteredAt.Equal(whenAt) {
					t.Errorf("state %+v", s)
				}
				if s.PaidTotal != money("0", "EUR") {
					t.Errorf("paid total %v, want 0.00 EUR", s.PaidTotal)
				}
			},
		},
		{name: "purchase date after today", when: future, fields: []string{"purchase_date"}},
		{
			name:   "missing everything",
			when:   empty,
			fields: []string{"customer.name", "customer.phone", "product.category", "product.serial", "purchase_date", "price", "defect"},
		},
		{
			name: "malformed fields",
			when: bad,
			fields: []string{"customer.phone", "customer.email", "product.category", "product.imei",
				"proof_of_purchase.kind", "proof_of_purchase.reference", "price", "channel"},
		},
		{name: "twice", given: history(t, "registered"), when: registration(), err: domain.ErrClaimExists},
		{name: "a blank serial number names no unit", when: blankSerial, fields: []string{"product.serial"}},
	})

	t.Run("application must assign ClaimID and Number", func(t *testing.T) {
		c := registration()
		c.ClaimID = [16]byte{}
		_, err := domain.Decide(domain.State{}, c, whenAt, policy)
		var ve domain.ValidationErrors
		if err == nil || errors.As(err, &ve) || domain.IsRuleError(err) {
			t.Errorf("error %v, want a plain (server) error", err)
		}
	})
}

func TestReview(t *testing.T) {
	unproven := history(t, "registered/no-proof")
	invoice := &domain.ProofOfPurchase{Kind: domain.ProofInvoice, Reference: " INV-2025-118 "}
	authorizeWithProof := sample(domain.ActionAuthorize).(*domain.AuthorizeClaim)
	authorizeWithProof.ProofOfPurchase = invoice

	run(t, []gwt{
		{name: "authorize without proof of purchase", given: unproven, when: sample(domain.ActionAuthorize), err: domain.ErrPurchaseNotConfirmed},
		{
			name:  "authorize with the proof produced now",
			given: unproven,
			when:  authorizeWithProof,
			then: []domain.Event{domain.ClaimAuthorized{
				ServiceCenter:      domain.ServiceCenter{Name: "Service Sofia", Address: "1 Tsarigradsko shose, Sofia"},
				DocumentsRequested: []string{"claim form", "copy of receipt"},
				ProofOfPurchase:    &domain.ProofOfPurchase{Kind: domain.ProofInvoice, Reference: "INV-2025-118"},
				At:                 whenAt,
			}},
			check: func(t *testing.T, s domain.State) {
				if s.ProofOfPurchase == nil || s.ProofOfPurchase.Reference != "INV-2025-118" || s.Status != domain.StatusAuthorized {
					t.Errorf("proof %+v, status %s", s.ProofOfPurchase, s.Status)
				}
			},
		},
		{
			name:  "service center's act returns the claim to review",
			given: history(t, "redirected"),
			when:  sample(domain.ActionRecordUnrepairabilityAct),
			then: []domain.Event{domain.ServiceCenterActRecorded{
				Kind: domain.ActUnrepairability, Reference: "ACT-55", IssuedOn: date("2026-02-20"), At: whenAt,
			}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusRegistered || s.ServiceCenter.Name != "Lenovo ASC Sofia" || s.ServiceCenter.Act.Reference != "ACT-55" {
					t.Errorf("state %s %+v", s.Status, s.ServiceCenter)
				}
				if !slices.Contains(domain.AllowedActions(s), domain.ActionAuthorize) {
					t.Errorf("authorize not allowed after the act: %v", domain.AllowedActions(s))
				}
			},
		},
		{
			name:   "act dated in the future",
			given:  history(t, "redirected"),
			when:   &domain.RecordUnrepairabilityAct{Kind: domain.ActRefusal, Reference: "L-1", IssuedOn: domain.DateOf(whenAt.AddDate(0, 1, 0))},
			fields: []string{"issued_on"},
		},
		{
			name:  "reject from redirected",
			given: history(t, "redirected"),
			when:  sample(domain.ActionReject),
			then:  []domain.Event{domain.ClaimRejected{ReasonCode: "warranty_expired", Reason: "Bought more than two years ago.", At: whenAt}},
		},
		{
			name:  "documents received are listed once",
			given: with(history(t, "authorized"), domain.DocumentsReceived{Documents: []string{"claim form"}, At: t0}),
			when:  &domain.ReceiveDocuments{Documents: []string{"claim form", "copy of receipt"}},
			check: func(t *testing.T, s domain.State) {
				if got := s.Authorization.DocumentsReceived; !slices.Equal(got, []string{"claim form", "copy of receipt"}) {
					t.Errorf("documents received %v", got)
				}
			},
		},
	})

	t.Run("withdraw after shipping names status and alternatives", func(t *testing.T) {
		_, err := domain.Decide(domain.Fold(history(t, "in_transit")), sample(domain.ActionWithdraw), whenAt, policy)
		want := &domain.InvalidTransitionError{
			From:    domain.StatusInTransit,
			Action:  domain.ActionWithdraw,
			Allowed: []domain.Action{domain.ActionReceiveDocuments, domain.ActionReceive, domain.ActionAddNote, domain.ActionAssign, domain.ActionPutOnHold},
		}
		var got *domain.InvalidTransitionError
		if !errors.As(err, &got) || !reflect.DeepEqual(got, want) {
			t.Fatalf("error %#v, want %#v", err, want)
		}
		if err.Error() != "action withdraw is not allowed in status in_transit (allowed: receive-documents, receive, add-note, assign, put-on-hold)" {
			t.Errorf("message %q", err)
		}
	})

	t.Run("close an authorized claim only when the shipment window expired", func(t *testing.T) {
		run(t, []gwt{
			{name: "other reason", given: history(t, "authorized"), when: sample(domain.ActionClose), fields: []string{"reason_code"}},
			{
				name:  "window expired",
				given: history(t, "authorized"),
				when:  &domain.CloseClaim{ReasonCode: domain.ReasonShipmentWindowExpired, Clocks: expiredWindow},
				then:  []domain.Event{domain.ClaimClosed{ReasonCode: domain.ReasonShipmentWindowExpired, At: whenAt}},
			},
			{
				name:  "withdrawn",
				given: history(t, "authorized"),
				when:  sample(domain.ActionWithdraw),
				check: func(t *testing.T, s domain.State) {
					if !s.Withdrawn || s.Status != domain.StatusClosed || s.Closure.ReasonCode != domain.ReasonWithdrawn {
						t.Errorf("state %s withdrawn=%v closure %+v", s.Status, s.Withdrawn, s.Closure)
					}
				},
			},
		})
	})
}

func TestDiagnosisAndEstimate(t *testing.T) {
	run(t, []gwt{
		{name: "void needs a reason code", given: history(t, "received"), when: &domain.DiagnoseClaim{Outcome: domain.OutcomeWarrantyVoid, Findings: "Liquid."}, fields: []string{"void_reason_code"}},
		{name: "reason code only for void", given: history(t, "received"), when: &domain.DiagnoseClaim{Outcome: domain.OutcomeNoFaultFound, VoidReasonCode: "liquid_damage", Findings: "None."}, fields: []string{"void_reason_code"}},
		{name: "no free repair on a void warranty", given: history(t, "diagnosed/void"), when: sample(domain.ActionStartRepair), invalid: true, reason: "warranty_void"},
		{name: "no refund on a void warranty", given: history(t, "diagnosed/void"), when: sample(domain.ActionApproveRefund), invalid: true, reason: "warranty_void"},
		{
			name:  "second review replaces the diagnosis",
			given: history(t, "diagnosed/void"),
			when:  sample(domain.ActionDiagnose),
			check: func(t *testing.T, s domain.State) {
				if s.Diagnosis.Outcome != domain.OutcomeDefectConfirmed || s.Diagnosis.VoidReasonCode != "" {
					t.Errorf("diagnosis %+v", s.Diagnosis)
				}
			},
		},
		{
			name:  "estimate total is the sum; absent parts are zero",
			given: history(t, "diagnosed/void"),
			when:  &domain.IssueEstimate{DamageLevel: 1, Labour: eur("25.5"), Shipping: eur("10.00")},
			then: []domain.Event{domain.EstimateIssued{
				DamageLevel: 1, Parts: eur("0"), Labour: eur("25.50"), Shipping: eur("10"), Total: eur("35.50"), At: whenAt,
			}},
		},
		{name: "estimate in another currency", given: history(t, "diagnosed/void"), when: &domain.IssueEstimate{DamageLevel: 3, Parts: money("40", "USD")}, err: domain.ErrCurrencyMismatch},
		{name: "estimate of nothing", given: history(t, "diagnosed/void"), when: &domain.IssueEstimate{DamageLevel: 4}, fields: []string{"damage_level", "total"}},
		{
			name:  "declined estimate goes back unrepaired",
			given: history(t, "estimate_issued"),
			when:  sample(domain.ActionDeclineEstimate),
			check: func(t *testing.T, s domain.State) {
				if s.Resolution.Kind != domain.ResolutionReturnedUnrepaired || s.Estimate.Decision != domain.EstimateDecisionDeclined {
					t.Errorf("resolution %+v estimate %+v", s.Resolution, s.Estimate)
				}
			},
		},
		{
			name:  "no fault found is its own resolution",
			given: history(t, "diagnosed/no-fault"),
			when:  &domain.ReturnUnrepaired{},
			then:  []domain.Event{domain.ClaimReturnedUnrepaired{Resolution: domain.ResolutionNoFaultFound, At: whenAt}},
		},
	})
}

func TestPayments(t *testing.T) {
	run(t, []gwt{
		{
			name:  "partial payment keeps waiting",
			given: history(t, "estimate_accepted"),
			when:  &domain.RecordPayment{Amount: eur("30"), Reference: " PAY-0 ", Method: domain.PaymentCash},
			then:  []domain.Event{domain.PaymentRecorded{Amount: eur("30.00"), Reference: "PAY-0", Method: domain.PaymentCash, At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusEstimateAccepted || s.PaidTotal != eur("30") {
					t.Errorf("status %s paid %v", s.Status, s.PaidTotal)
				}
			},
		},
		{
			name:  "the payment that covers the estimate makes it paid",
			given: history(t, "estimate_accepted/part-paid"),
			when:  &domain.RecordPayment{Amount: eur("45"), Reference: "PAY-1", Method: domain.PaymentCard},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusPaid || s.PaidTotal != eur("75") || len(s.Payments) != 2 {
					t.Errorf("status %s paid %v payments %v", s.Status, s.PaidTotal, s.Payments)
				}
			},
		},
		{name: "more than outstanding", given: history(t, "estimate_accepted/part-paid"), when: &domain.RecordPayment{Amount: eur("45.01"), Reference: "PAY-1", Method: domain.PaymentCard}, err: domain.ErrPaymentExceedsOutstanding},
		{name: "same reference twice", given: history(t, "estimate_accepted/part-paid"), when: &domain.RecordPayment{Amount: eur("1"), Reference: "PAY-0", Method: domain.PaymentCash}, err: domain.ErrDuplicateReference},
		{name: "other currency", given: history(t, "estimate_accepted"), when: &domain.RecordPayment{Amount: money("75", "BGN"), Reference: "PAY-1", Method: domain.PaymentCash}, err: domain.ErrCurrencyMismatch},
		{name: "abandon a part-paid estimate", given: history(t, "estimate_accepted/part-paid"), when: &domain.ReturnUnrepaired{}, invalid: true, reason: "paid towards the estimate"},
		{
			// An imported history where paid work was done before the estimate was paid.
			name: "paid work does not ship before it is paid",
			given: with(history(t, "estimate_accepted/part-paid"),
				domain.RepairStarted{Where: domain.RepairOwn, At: t0},
				domain.RepairCompleted{WorkDone: "Done.", At: t0}),
			when: sample(domain.ActionShipReturn),
			err:  domain.ErrPaymentNotCovered,
		},
		{
			name:  "paid work ships once paid",
			given: with(history(t, "paid"), domain.RepairStarted{Where: domain.RepairOwn, At: t0}, domain.RepairCompleted{WorkDone: "Done.", At: t0}),
			when:  sample(domain.ActionShipReturn),
			then:  []domain.Event{domain.ReturnShipped{Carrier: "Speedy", TrackingNumber: "SP999", At: whenAt}},
		},
	})
}

func TestRefundsAndCredit(t *testing.T) {
	// 70% of 129.90 EUR is 90.93 EUR.
	run(t, []gwt{
		{
			name:  "refund up to the cap",
			given: history(t, "diagnosed"),
			when:  &domain.ApproveRefund{Amount: eur("90.93"), Reason: "Hardware share."},
			then:  []domain.Event{domain.RefundApproved{Amount: eur("90.93"), Reason: "Hardware share.", CapBasisPoints: 7000, At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Resolution.Kind != domain.ResolutionRefunded || s.Refund.Approved != eur("90.93") || s.Refund.Paid != eur("0") {
					t.Errorf("resolution %+v refund %+v", s.Resolution, s.Refund)
				}
			},
		},
		{name: "refund over the cap", given: history(t, "diagnosed"), when: &domain.ApproveRefund{Amount: eur("90.94"), Reason: "All of it."}, err: domain.ErrRefundExceedsCap},
		{name: "credit note and refund share the cap", given: history(t, "in_repair"), when: &domain.IssueCreditNote{Amount: eur("90.94"), Number: "CN-1"}, err: domain.ErrRefundExceedsCap},
		{name: "refund in another currency", given: history(t, "diagnosed"), when: &domain.ApproveRefund{Amount: money("50", "USD"), Reason: "x"}, err: domain.ErrCurrencyMismatch},
		{
			name:  "partial refund payment",
			given: history(t, "resolved/refund-unpaid"),
			when:  &domain.RecordRefundPayment{Amount: eur("20"), Reference: "REF-1"},
			check: func(t *testing.T, s domain.State) {
				if s.Refund.Paid != eur("20") || s.Status != domain.StatusResolved || !slices.Contains(domain.AllowedActions(s), domain.ActionRecordRefundPayment) {
					t.Errorf("refund %+v", s.Refund)
				}
			},
		},
		{name: "refund payment over the approved amount", given: history(t, "resolved/refund-unpaid"), when: &domain.RecordRefundPayment{Amount: eur("50.01"), Reference: "REF-1"}, err: domain.ErrRefundPaymentExceedsApproved},
		{name: "refund payment when all is paid", given: history(t, "resolved/refund-paid"), when: &domain.RecordRefundPayment{Amount: eur("1"), Reference: "REF-2"}, err: domain.ErrNothingToRefund},
		{name: "refund payment without a refund", given: history(t, "resolved"), when: sample(domain.ActionRecordRefundPayment), err: domain.ErrNothingToRefund},
		{name: "close before the refund is paid", given: history(t, "resolved/refund-unpaid"), when: sample(domain.ActionClose), err: domain.ErrRefundNotPaid},
		{name: "refunded items are not shipped back", given: history(t, "resolved/refund-paid"), when: sample(domain.ActionShipReturn), invalid: true, reason: "refunded"},
		{name: "repaired items are shipped back, not closed", given: history(t, "resolved"), when: sample(domain.ActionClose), invalid: true, reason: "ship-return"},
		{
			name: "credit note number twice",
			given: with(history(t, "resolved/credited"),
				domain.DisputeOpened{Reason: "Wants money.", OriginalResolution: domain.ResolutionCredited, At: t0},
				domain.DisputeResolved{Outcome: domain.DisputeOverturned, Decision: "Review.", At: t0}),
			when: &domain.IssueCreditNote{Amount: eur("1"), Number: " CN-1"},
			err:  domain.ErrDuplicateReference,
		},
	})
}

func TestDisputes(t *testing.T) {
	refundDisputed := with(history(t, "resolved/refund-unpaid"),
		domain.RefundPaid{Amount: eur("20"), Reference: "REF-1", At: t0},
		domain.DisputeOpened{Reason: "Too little.", OriginalResolution: domain.ResolutionRefunded, At: t0})

	run(t, []gwt{
		{
			name:  "appeal keeps the original resolution on record",
			given: history(t, "resolved"),
			when:  sample(domain.ActionOpenDispute),
			then:  []domain.Event{domain.DisputeOpened{Reason: "It still does not power on.", OriginalResolution: domain.ResolutionRepaired, At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusDisputed || len(s.Disputes) != 1 || s.Disputes[0].OriginalResolution != domain.ResolutionRepaired {
					t.Errorf("status %s disputes %+v", s.Status, s.Disputes)
				}
			},
		},
		{
			name:  "upheld: the decision stands",
			given: history(t, "disputed"),
			when:  sample(domain.ActionResolveDispute),
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusResolved || s.Resolution.Kind != domain.ResolutionRepaired || s.Disputes[0].Outcome != domain.DisputeUpheld {
					t.Errorf("status %s resolution %+v disputes %+v", s.Status, s.Resolution, s.Disputes)
				}
			},
		},
		{
			name:  "overturned: back to a new decision, original kept",
			given: history(t, "disputed"),
			when:  &domain.ResolveDispute{Outcome: domain.DisputeOverturned, Decision: "Defect reproduced."},
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusDiagnosed || s.Resolution != nil || s.Disputes[0].OriginalResolution != domain.ResolutionRepaired {
					t.Errorf("status %s resolution %+v disputes %+v", s.Status, s.Resolution, s.Disputes)
				}
			},
		},
		{
			name:  "overturning a refund cancels its unpaid part",
			given: refundDisputed,
			when:  &domain.ResolveDispute{Outcome: domain.DisputeOverturned, Decision: "Replace instead."},
			then:  []domain.Event{domain.DisputeResolved{Outcome: domain.DisputeOverturned, Decision: "Replace instead.", RefundCancelled: eur("30"), At: whenAt}},
			check: func(t *testing.T, s domain.State) {
				if s.Refund.Approved != eur("20") || s.Refund.Paid != eur("20") || s.Disputes[0].RefundCancelled != eur("30") {
					t.Errorf("refund %+v disputes %+v", s.Refund, s.Disputes)
				}
				if !slices.Contains(domain.AllowedActions(s), domain.ActionReplace) {
					t.Errorf("replace not allowed after overturn: %v", domain.AllowedActions(s))
				}
			},
		},
		{name: "no appeal after delivery", given: history(t, "delivered"), when: sample(domain.ActionOpenDispute), invalid: true},
	})
}

func TestHoldsAndNotes(t *testing.T) {
	run(t, []gwt{
		{
			name:  "hold remembers where the claim was",
			given: history(t, "in_repair"),
			when:  &domain.PutOnHold{ReasonCode: "unpaid_debt", Reason: "Invoice 17 overdue."},
			then:  []domain.Event{domain.ClaimPutOnHold{ReasonCode: "unpaid_debt", Reason: "Invoice 17 overdue.", PreviousStatus: domain.StatusInRepair, At: whenAt}},
		},
		{
			name:  "release resumes it",
			given: history(t, "on_hold"),
			when:  sample(domain.ActionReleaseHold),
			check: func(t *testing.T, s domain.State) {
				if s.Status != domain.StatusInRepair || s.Hold != nil {
					t.Errorf("status %s hold %+v", s.Status, s.Hold)
				}
			},
		},
		{
			name:  "notes are internal unless said otherwise",
			given: history(t, "closed"),
			when:  sample(domain.ActionAddNote),
			then:  []domain.Event{domain.NoteAdded{Text: "Called the customer.", Visibility: domain.VisibilityInternal, At: whenAt}},
		},
		{name: "note visibility", given: history(t, "registered"), when: &domain.AddNote{Text: "x", Visibility: "public"}, fields: []string{"visibility"}},
	})
}

func TestDecideRefusesAnInvalidPolicy(t *testing.T) {
	for _, p := range []domain.Policy{{}, {Version: "x", RefundCapBasisPoints: 10001}, {Version: "x", RefundCapBasisPoints: -1}} {
		if _, err := domain.Decide(domain.Fold(history(t, "registered")), sample(domain.ActionAddNote), whenAt, p); !errors.Is(err, domain.ErrInvalidPolicy) {
			t.Errorf("policy %+v: %v, want ErrInvalidPolicy", p, err)
		}
	}
}

func TestEvolveLeavesItsInputAlone(t *testing.T) {
	events := history(t, "resolved/refund-paid")
	before := domain.Fold(events[:len(events)-1])
	snapshot := domain.Fold(events[:len(events)-1])
	_ = domain.Evolve(before, events[len(events)-1])
	_ = domain.Evolve(before, domain.NoteAdded{Text: "a", Visibility: domain.VisibilityInternal, At: t0})
	_ = domain.Evolve(before, domain.DocumentsReceived{Documents: []string{"b"}, At: t0})
	if !reflect.DeepEqual(before, snapshot) {
		t.Errorf("Evolve modified its input state")
	}
	// Two branches from one state must not share appended notes.
	a := domain.Evolve(before, domain.NoteAdded{Text: "a", At: t0})
	b := domain.Evolve(before, domain.NoteAdded{Text: "b", At: t0})
	if a.Notes[len(a.Notes)-1].Text != "a" || b.Notes[len(b.Notes)-1].Text != "b" {
		t.Errorf("branches share notes")
	}
	if v := domain.Evolve(before, nil).Version; v != before.Version+1 {
		t.Errorf("an unknown event must still count: version %d", v)
	}
}

// TestErrorMessagesExplain: a rule error carries the figures that broke the rule, so that an
// agent understands it without opening the claim.
func TestErrorMessagesExplain(t *testing.T) {
	p := domain.Policy{Version: "bg-2026", RefundCapBasisPoints: 7250}
	_, err := domain.Decide(domain.Fold(history(t, "diagnosed")), &domain.ApproveRefund{Amount: eur("100"), Reason: "x"}, whenAt, p)
	want := "refunds and credit notes exceed the cap: 100.00 EUR would bring refunds and credit notes to 100.00 EUR; " +
		"the cap is 94.17 EUR (72.5% of the price 129.90 EUR), 0.00 EUR already used"
	if err == nil || err.Error() != want {
		t.Errorf("message %q\nwant %q", err, want)
	}
	ve := domain.ValidationErrors{{Field: "customer.phone", Problem: "is required"}, {Field: "defect", Problem: "is required"}}
	if got := ve.Error(); got != "invalid command: customer.phone: is required; defect: is required" {
		t.Errorf("validation message %q", got)
	}
}
