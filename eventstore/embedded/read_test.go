package embedded

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/eventstore"
)

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		p, end string
		ok     bool
	}{
		{"claim-", "claim.", true},
		{"a", "b", true},
		{"a\xff", "b", true},
		{"a\xff\xff", "b", true},
		{"\xff", "", false},
		{"", "", false},
		{"заявка-", "заявка.", true},
	} {
		end, ok := prefixEnd(c.p)
		if end != c.end || ok != c.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", c.p, end, ok, c.end, c.ok)
		}
	}
}

// TestPrefixFilterBounds reads $all with prefixes whose range bounds are
// next to the names: only the names that start with a prefix are read.
func TestPrefixFilterBounds(t *testing.T) {
	s := openStore(t, t.TempDir(), Config{})
	ctx := context.Background()
	streams := []string{"a", "a-1", "a\xff", "a\xff\xff1", "b", "`", "ab", "заявка-1", "заявка.", "заявкб", "$a-1"}
	for _, name := range streams {
		if _, err := s.Append(ctx, name, eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		prefixes []string
		want     []string
	}{
		{[]string{"a"}, []string{"a", "a-1", "a\xff", "a\xff\xff1", "ab"}},
		{[]string{"a\xff"}, []string{"a\xff", "a\xff\xff1"}},
		{[]string{"a-", "b"}, []string{"a-1", "b"}},
		{[]string{"заявка-"}, []string{"заявка-1"}},
		{[]string{""}, []string{"a", "a-1", "a\xff", "a\xff\xff1", "b", "`", "ab", "заявка-1", "заявка.", "заявкб"}},
	} {
		recs, err := s.ReadAll(ctx, eventstore.Start, 100, eventstore.Filter{StreamPrefixes: c.prefixes})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Stream)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) {
			t.Errorf("prefixes %q: read %q, want %q", c.prefixes, got, want)
		}
	}
}
