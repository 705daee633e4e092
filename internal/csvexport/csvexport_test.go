package csvexport

import (
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

var numbers = File[int]{Name: "numbers.csv", Header: []string{"n", "square"}, Record: func(n int) []string {
	return []string{strconv.Itoa(n), strconv.Itoa(n * n)}
}}

// pages serves 1..9 three to a page, the cursor being the next number; it
// records what had been written when each page was asked for.
type pages struct {
	w       *httptest.ResponseRecorder
	seen    []string
	failAt  string
	cursors []string
}

func (p *pages) next(cursor string) (Page[int], error) {
	p.cursors = append(p.cursors, cursor)
	p.seen = append(p.seen, p.w.Body.String())
	if cursor == p.failAt {
		return Page[int]{}, errors.New("the read model is gone")
	}
	start, _ := strconv.Atoi(cursor)
	page := Page[int]{Items: []int{start, start + 1, start + 2}}
	if start+3 <= 9 {
		page.Next = strconv.Itoa(start + 3)
	}
	return page, nil
}

func TestStreamWritesEveryPageAsItIsRead(t *testing.T) {
	w := httptest.NewRecorder()
	p := &pages{w: w}
	first := Page[int]{Items: []int{1, 2, 3}, Next: "4"}
	if err := Stream(w, numbers, first, false, p.next); err != nil {
		t.Fatal(err)
	}
	want := "n,square\n1,1\n2,4\n3,9\n4,16\n5,25\n6,36\n7,49\n8,64\n9,81\n"
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("%d %q, want 200 %q", w.Code, w.Body.String(), want)
	}
	if got := w.Header().Get("Content-Type"); got != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got := w.Header().Get("Content-Disposition"); got != `attachment; filename="numbers.csv"` {
		t.Errorf("Content-Disposition %q", got)
	}
	if w.Header().Get("Next-Cursor") != "" {
		t.Error("the whole file has a Next-Cursor")
	}
	if strings.Join(p.cursors, " ") != "4 7" {
		t.Errorf("pages read at cursors %v, want 4 7", p.cursors)
	}
	// Streaming: each page was written out before the next was read.
	if p.seen[0] != "n,square\n1,1\n2,4\n3,9\n" || !strings.HasSuffix(p.seen[1], "6,36\n") {
		t.Errorf("written before reading the next pages: %q", p.seen)
	}
}

func TestStreamOnePage(t *testing.T) {
	w := httptest.NewRecorder()
	p := &pages{w: w}
	if err := Stream(w, numbers, Page[int]{Items: []int{1, 2, 3}, Next: "4"}, true, p.next); err != nil {
		t.Fatal(err)
	}
	if w.Body.String() != "n,square\n1,1\n2,4\n3,9\n" || w.Header().Get("Next-Cursor") != "4" || len(p.cursors) != 0 {
		t.Errorf("%q, Next-Cursor %q, pages read %v", w.Body.String(), w.Header().Get("Next-Cursor"), p.cursors)
	}
	w = httptest.NewRecorder()
	if err := Stream(w, numbers, Page[int]{}, true, p.next); err != nil || w.Body.String() != "n,square\n" || w.Header().Get("Next-Cursor") != "" {
		t.Errorf("an empty last page: %v %q, Next-Cursor %q", err, w.Body.String(), w.Header().Get("Next-Cursor"))
	}
}

func TestStreamCutShortReturnsTheError(t *testing.T) {
	w := httptest.NewRecorder()
	p := &pages{w: w, failAt: "7"}
	err := Stream(w, numbers, Page[int]{Items: []int{1, 2, 3}, Next: "4"}, false, p.next)
	if err == nil || err.Error() != "the read model is gone" {
		t.Fatalf("error %v, want the page's", err)
	}
	if w.Code != 200 || w.Body.String() != "n,square\n1,1\n2,4\n3,9\n4,16\n5,25\n6,36\n" {
		t.Errorf("%d %q: want the pages before the failure", w.Code, w.Body.String())
	}
}
