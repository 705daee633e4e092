// Package csvexport streams a paged listing as one CSV download: the API's
// and the console's exports of the audit trail and of compensations.
package csvexport

import (
	"encoding/csv"
	"net/http"
)

// Page is one page of a listing: its items, and the cursor that continues
// after them (empty on the last page).
type Page[T any] struct {
	Items []T
	Next  string
}

// File is a CSV download: the name it is offered to be saved under, its
// columns, and how an item becomes a line.
type File[T any] struct {
	Name   string
	Header []string
	Record func(T) []string
}

// Stream answers 200 with first and, unless onePage, every page after it,
// read with next a page at a time as the previous one is written, so that a
// file of any length takes one page of memory. With onePage, the
// continuation is in the Next-Cursor header.
//
// The caller reads the first page before calling, so that a bad cursor is
// still a problem answer. Once the status is sent, nothing can be reported
// to the client: Stream returns the error of a later page, which cut the
// file short, for the caller to log, and nil when the file is complete or
// the client went away.
func Stream[T any](w http.ResponseWriter, f File[T], first Page[T], onePage bool, next func(cursor string) (Page[T], error)) error {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+f.Name+`"`)
	if onePage && first.Next != "" {
		h.Set("Next-Cursor", first.Next)
	}
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	if err := cw.Write(f.Header); err != nil {
		return nil // the client went away
	}
	page := first
	for {
		for _, item := range page.Items {
			if err := cw.Write(f.Record(item)); err != nil {
				return nil
			}
		}
		cw.Flush()
		if cw.Error() != nil || onePage || page.Next == "" {
			return nil
		}
		var err error
		if page, err = next(page.Next); err != nil {
			return err
		}
	}
}
