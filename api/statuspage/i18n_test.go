package statuspage

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/projections"
)

// TestCatalogueComplete: every language has every key, nothing else, no
// empty text and the same arguments; and the catalogue covers every code the
// read model can produce and every key the template asks for.
func TestCatalogueComplete(t *testing.T) {
	cat, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.All()) != 5 {
		t.Fatalf("%d languages, want 5", len(cat.All()))
	}
	english := cat.All()[0]
	verbs := regexp.MustCompile(`%(\[\d+\])?[a-z]`)
	for _, l := range cat.All() {
		for _, key := range english.Keys() {
			text, got, ok := english.T(key), l.T(key), l.Has(key)
			switch {
			case !ok:
				t.Errorf("%s lacks %q", l.Code, key)
			case got == "" || strings.TrimSpace(got) == "" && key != "number.group":
				t.Errorf("%s: %q is empty", l.Code, key)
			case !slices.Equal(sortedVerbs(verbs, got), sortedVerbs(verbs, text)):
				t.Errorf("%s: %q has arguments %v, English %v", l.Code, key, verbs.FindAllString(got, -1), verbs.FindAllString(text, -1))
			}
		}
		for _, key := range l.Keys() {
			if !english.Has(key) {
				t.Errorf("%s has %q, which English lacks", l.Code, key)
			}
		}
	}

	var needed []string
	for _, s := range domain.Statuses() {
		needed = append(needed, "status."+string(s))
	}
	for _, code := range projections.StepCodes() {
		needed = append(needed, "step."+code)
	}
	for _, code := range projections.NextStepCodes() {
		needed = append(needed, "next."+code)
	}
	for _, kind := range []string{domain.ResolutionRepaired, domain.ResolutionReplaced, domain.ResolutionRefunded,
		domain.ResolutionCredited, domain.ResolutionReturnedUnrepaired, domain.ResolutionNoFaultFound, domain.ResolutionResolvedRemotely} {
		needed = append(needed, "resolution."+kind)
	}
	page, err := assets.ReadFile("assets/page.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\.T "([a-z_.]+)"`).FindAllStringSubmatch(string(page), -1) {
		needed = append(needed, m[1])
	}
	for _, key := range needed {
		if !english.Has(key) {
			t.Errorf("no message for %q", key)
		}
	}
	if len(needed) < 80 {
		t.Errorf("only %d keys checked: the code lists look empty", len(needed))
	}
}

func sortedVerbs(re *regexp.Regexp, s string) []string {
	v := re.FindAllString(s, -1)
	slices.Sort(v)
	return v
}

func TestPickLanguage(t *testing.T) {
	cat, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ explicit, accept, want string }{
		{"", "", "en"},
		{"", "ru-RU,ru;q=0.9,en-US;q=0.8", "ru"},
		{"", "bg", "bg"},
		{"", "el-GR", "el"},
		{"", "zh-CN,zh;q=0.9", "zh-Hans"},
		{"", "zh", "zh-Hans"},
		{"", "fr-FR,fr;q=0.9", "en"},
		{"", "fr-FR,de;q=0.9,bg;q=0.5", "bg"},
		{"", "de, ru;q=0.2, el;q=0.7", "el"},
		{"", "garbage;;;q=x", "en"},
		{"ru", "bg", "ru"},
		{"zh-Hans", "", "zh-Hans"},
		{"el", "ru", "el"},
		{"xx-invalid", "bg", "bg"},
		{"fr", "ru", "ru"},
	} {
		if got := cat.Pick(tc.accept, tc.explicit).Code; got != tc.want {
			t.Errorf("pick(%q, %q) = %s, want %s", tc.explicit, tc.accept, got, tc.want)
		}
	}
}

func TestFormats(t *testing.T) {
	cat, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	sofia, err := time.LoadLocation("Europe/Sofia")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 13, 4, 0, 0, time.UTC).In(sofia)
	money := domain.Money{Amount: 125250, Currency: "BGN"}
	want := map[string][3]string{
		"en":      {"March 2, 2026, 3:04 pm", "1,252.50 BGN", "Bulgaria"},
		"ru":      {"2 марта 2026 г., 15:04", "1\u00a0252,50 BGN", "Болгария"},
		"bg":      {"2 март 2026 г., 15:04", "1\u00a0252,50 BGN", "България"},
		"zh-Hans": {"2026年3月2日 下午3:04", "1,252.50 BGN", "保加利亚"},
		"el":      {"2 Μαρτίου 2026, 3:04 μ.μ.", "1.252,50 BGN", "Βουλγαρία"},
	}
	for _, l := range cat.All() {
		got := [3]string{l.dateTime(at), l.money(money), l.country("BG")}
		if got != want[l.Code] {
			t.Errorf("%s: %q, want %q", l.Code, got, want[l.Code])
		}
	}
	en := cat.All()[0]
	for m, want := range map[domain.Money]string{
		{Amount: 0, Currency: "EUR"}:         "0.00 EUR",
		{Amount: 5, Currency: "EUR"}:         "0.05 EUR",
		{Amount: 123456789, Currency: "EUR"}: "1,234,567.89 EUR",
		{Amount: 1500, Currency: "JPY"}:      "1,500 JPY",
		{Amount: 1234, Currency: "KWD"}:      "1.234 KWD",
		{}:                                   "",
	} {
		if got := en.money(m); got != want {
			t.Errorf("money(%v) = %q, want %q", m, got, want)
		}
	}
	if got := en.country("ZZ"); got == "" {
		t.Error("an unknown region shows nothing")
	}
}

func TestNormalizeNumber(t *testing.T) {
	for in, want := range map[string]string{
		"RMA-2026-000123":           "RMA-2026-000123",
		" rma-2026-000123 ":         "RMA-2026-000123",
		"rma 2026 000123":           "RMA-2026-000123",
		"RMA – 2026 — 000123":       "RMA-2026-000123",
		"rma_2026_000123":           "RMA-2026-000123",
		"-RMA--2026--000123-":       "RMA-2026-000123",
		"RMA\u00a02026\u2011000123": "RMA-2026-000123",
	} {
		if got, ok := normalizeNumber(in); !ok || got != want {
			t.Errorf("normalizeNumber(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "   ", "---", "RMA<2026>", "RMA-2026-000123'; DROP", "РМА-2026-1", strings.Repeat("A", 65)} {
		if got, ok := normalizeNumber(bad); ok {
			t.Errorf("normalizeNumber(%q) = %q, accepted", bad, got)
		}
	}
}

func TestZoneName(t *testing.T) {
	sofia, _ := time.LoadLocation("Europe/Sofia")
	newYork, _ := time.LoadLocation("America/New_York")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	summer := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{time.UTC, "UTC"},
		{sofia, "UTC+03:00 (Europe/Sofia)"},
		{newYork, "UTC−04:00 (America/New_York)"},
		{kolkata, "UTC+05:30 (Asia/Kolkata)"},
		{time.FixedZone("", 2*3600), "UTC+02:00"},
	} {
		if got := zoneName(tc.loc, summer); got != tc.want {
			t.Errorf("zoneName(%s) = %q, want %q", tc.loc, got, tc.want)
		}
	}
}

// TestContrast computes the WCAG 2.1 contrast of the stylesheet's colour
// pairs: 4.5:1 for text, 3:1 for borders and the focus ring.
func TestContrast(t *testing.T) {
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"white": "#ffffff"}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-f]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	for _, pair := range []struct {
		fg, bg string
		min    float64
	}{
		{"text", "bg", 4.5}, {"muted", "bg", 4.5}, {"text", "panel", 4.5}, {"muted", "panel", 4.5},
		{"accent", "bg", 4.5}, {"accent", "panel", 4.5}, {"white", "accent", 4.5}, {"white", "accent-dark", 4.5},
		{"error", "error-bg", 4.5}, {"text", "error-bg", 4.5}, {"error", "bg", 4.5},
		{"border", "bg", 3},
		// The focus ring is drawn 2px outside the element, on the page background.
		{"focus", "bg", 3}, {"focus", "panel", 3},
	} {
		fg, bg := vars[pair.fg], vars[pair.bg]
		if fg == "" || bg == "" {
			t.Errorf("no colour --%s or --%s in style.css", pair.fg, pair.bg)
			continue
		}
		if r := contrast(fg, bg); r < pair.min {
			t.Errorf("%s on %s: %.2f:1, want at least %.1f:1", pair.fg, pair.bg, r, pair.min)
		} else {
			t.Logf("%s %s on %s %s: %.2f:1", pair.fg, fg, pair.bg, bg, r)
		}
	}
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(hex string) float64 {
	var r, g, b int
	fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b)
	lin := func(c int) float64 {
		v := float64(c) / 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}
