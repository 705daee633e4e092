package projections

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestOrganisationFilters: the claims and timers read models keep each
// claim's organisation and filter by it, so that a partner's lists hold its
// own claims only; without the filter every claim is listed.
func TestOrganisationFilters(t *testing.T) {
	book := quickPolicy(2)
	w := policyWorld(t, book)
	l := newClockedLedger(t, w, book, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ctx := context.Background()
	byOrg := map[string][]uuid.UUID{}
	for i, org := range []string{"acme", "globex", "", "acme"} {
		c := registration(i)
		c.Organisation = org
		res, err := l.Register(ctx, c, req)
		if err != nil {
			t.Fatal(err)
		}
		byOrg[org] = append(byOrg[org], res.Claim.ID)
	}
	r := startRunner(t, w.store, timersConfig(t.TempDir(), book))
	waitFor(t, r, w.head())
	sorted := func(ids []uuid.UUID) []uuid.UUID {
		out := slices.Clone(ids)
		slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		return slices.Compact(out)
	}

	for _, org := range []string{"acme", "globex"} {
		page, err := r.Search(ctx, SearchQuery{Organisation: org})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(page.Items), sorted(byOrg[org]); !slices.Equal(got, want) {
			t.Errorf("search of %s: %v, want %v", org, got, want)
		}
		for _, it := range page.Items {
			if it.Organisation != org {
				t.Errorf("summary of %s says organisation %q", it.ID, it.Organisation)
			}
		}
		timers, err := r.Timers(ctx, TimerQuery{Organisation: org})
		if err != nil {
			t.Fatal(err)
		}
		var claims []uuid.UUID
		for _, tm := range timers.Items {
			claims = append(claims, tm.ClaimID)
		}
		if got, want := sorted(claims), sorted(byOrg[org]); !slices.Equal(got, want) {
			t.Errorf("timers of %s: claims %v, want %v", org, got, want)
		}
	}
	all, err := r.Search(ctx, SearchQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Items) != 4 {
		t.Errorf("unfiltered search: %d claims, want 4", len(all.Items))
	}
	rec, err := r.Claim(ctx, byOrg["globex"][0])
	if err != nil || rec.State.Organisation != "globex" {
		t.Errorf("claim: organisation %q, %v; want globex", rec.State.Organisation, err)
	}
	none, err := r.Search(ctx, SearchQuery{Organisation: "initech"})
	if err != nil || len(none.Items) != 0 {
		t.Errorf("an organisation without claims: %d claims, %v", len(none.Items), err)
	}
}
