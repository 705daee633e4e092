package console

import (
	"context"
	"slices"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

type fixedDirectory []Account

func (d fixedDirectory) People(context.Context) ([]Account, error) { return d, nil }

// TestAssignOffersThePeople: with a directory, the assign form's assignee is a
// choice of the active people who may work on claims, with "" to unassign;
// other forms are left alone.
func TestAssignOffersThePeople(t *testing.T) {
	s := &console{cfg: Config{Directory: fixedDirectory{
		{Name: "Ana Agent", Role: "agent"},
		{Name: "Fiona Finance", Role: "finance"},
		{Name: "Gone Technician", Role: "technician", Disabled: true},
		{Name: "Tom Technician", Role: "technician"},
	}}}
	st := domain.State{Version: 3}
	views := []formView{
		s.blankForm(st, domain.ActionAddNote, forms[domain.ActionAddNote]),
		s.blankForm(st, domain.ActionAssign, forms[domain.ActionAssign]),
	}
	if err := s.offerPeople(t.Context(), views); err != nil {
		t.Fatal(err)
	}
	assignee := views[1].Inputs[0]
	if assignee.Kind != kindChoice || !slices.Equal(assignee.Options, []string{"", "Ana Agent", "Tom Technician"}) {
		t.Errorf("assignee input %+v", assignee)
	}
	if views[0].Inputs[0].Kind != kindTextarea {
		t.Errorf("the note's text became %s", views[0].Inputs[0].Kind)
	}
	s.cfg.Directory = nil
	plain := []formView{s.blankForm(st, domain.ActionAssign, forms[domain.ActionAssign])}
	if err := s.offerPeople(t.Context(), plain); err != nil || plain[0].Inputs[0].Kind != kindText {
		t.Errorf("without a directory: %+v, %v", plain[0].Inputs[0], err)
	}
}
