package eventstore

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestParsePositionReadsEveryForm: every form a position has been written in
// (the API's "42", KurrentDB's "42/40", the audit documents' "42/42", with
// the spaces a person may type around it) reads as the same position.
func TestParsePositionReadsEveryForm(t *testing.T) {
	tests := []struct {
		name, text string
		want       Position
	}{
		{"one number", "42", Position{42, 42}},
		{"both halves equal", "42/42", Position{42, 42}},
		{"spaces around", " 42/42\n", Position{42, 42}},
		{"halves differ", "42/40", Position{42, 40}},
		{"start as one number", "0", Start},
		{"start as both halves", "0/0", Start},
		{"largest", "18446744073709551615", Position{math.MaxUint64, math.MaxUint64}},
		{"largest halves", "18446744073709551615/7", Position{math.MaxUint64, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePosition(tt.text)
			if err != nil || got != tt.want {
				t.Fatalf("ParsePosition(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
			}
		})
	}
}

// TestPositionStringRoundTrips: String writes one form, the short one when
// the halves are equal, and ParsePosition reads it back to the same position.
func TestPositionStringRoundTrips(t *testing.T) {
	tests := []struct {
		p    Position
		want string
	}{
		{Start, "0"},
		{Position{42, 42}, "42"},
		{Position{42, 40}, "42/40"},
		{Position{7, 9}, "7/9"},
		{Position{math.MaxUint64, math.MaxUint64}, "18446744073709551615"},
	}
	for _, tt := range tests {
		s := tt.p.String()
		if s != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, s, tt.want)
		}
		back, err := ParsePosition(s)
		if err != nil || back != tt.p {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %+v", s, back, err, tt.p)
		}
	}
}

// TestParsePositionRefusesBadText: anything but one or two decimal numbers is
// refused with ErrBadPosition and an error that quotes the text.
func TestParsePositionRefusesBadText(t *testing.T) {
	for _, text := range []string{
		"", " ", "abc", "42/", "/42", "42/40/1", "-1", "+42", "4.2", "1e3", "0x2a",
		"42 /40", "42/ 40", "42,40", "18446744073709551616", "1/18446744073709551616",
	} {
		p, err := ParsePosition(text)
		if !errors.Is(err, ErrBadPosition) {
			t.Errorf("ParsePosition(%q) = %+v, %v; want ErrBadPosition", text, p, err)
			continue
		}
		if p != Start || !strings.Contains(err.Error(), `"`+text+`"`) || !strings.Contains(err.Error(), "<commit>/<prepare>") {
			t.Errorf("ParsePosition(%q): %+v, %q; want the zero position and an error quoting the text and the forms", text, p, err)
		}
	}
}
