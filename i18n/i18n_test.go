package i18n_test

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/i18n"
)

// catalogue is five languages whose one message names them, with an argument.
func catalogue(t *testing.T) *i18n.Catalogue[*i18n.Locale] {
	t.Helper()
	files := fstest.MapFS{}
	for _, code := range []string{"en", "ru", "bg", "zh-Hans", "el"} {
		files["messages/"+code+".json"] = &fstest.MapFile{Data: []byte(`{"hello": "` + code + ` %[1]s"}`)}
	}
	c, err := i18n.Load(files, "messages", func(l *i18n.Locale) *i18n.Locale { return l })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPick(t *testing.T) {
	c := catalogue(t)
	for _, tc := range []struct {
		name, accept string
		chosen       []string
		want         string
	}{
		{"nothing asked: English", "", nil, "en"},
		{"the browser's best", "de-DE, bg;q=0.8, ru;q=0.5", nil, "bg"},
		{"a choice wins over the browser", "bg", []string{"el"}, "el"},
		{"the first choice that is supported", "bg", []string{"", "de", "zh-Hans"}, "zh-Hans"},
		{"a regional form of a language", "", []string{"ru-RU"}, "ru"},
		{"an unsupported choice falls back to the browser", "ru", []string{"fr"}, "ru"},
		{"nothing supported: English", "de, fr", []string{"it"}, "en"},
	} {
		if got := c.Pick(tc.accept, tc.chosen...).Code; got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestExactlyAndMessages(t *testing.T) {
	c := catalogue(t)
	if len(c.All()) != 5 || c.All()[0].Code != "en" {
		t.Fatalf("languages %d, first %s", len(c.All()), c.All()[0].Code)
	}
	l, ok := c.Exactly("ZH-hans")
	if !ok || l.Code != "zh-Hans" {
		t.Fatalf("Exactly(ZH-hans) = %v, %v", l, ok)
	}
	if _, ok := c.Exactly("zh"); ok {
		t.Error("Exactly takes a code that is not one of the languages")
	}
	if got := l.T("hello", "world"); got != "zh-Hans world" {
		t.Errorf("T = %q", got)
	}
	if got := l.T("missing.key"); got != "missing.key" || l.Has("missing.key") || !l.Has("hello") {
		t.Errorf("a missing key: %q, Has %v", got, l.Has("missing.key"))
	}
	if keys := l.Keys(); len(keys) != 1 || keys[0] != "hello" {
		t.Errorf("Keys = %v", keys)
	}
}

func TestLoadRefusesAMissingOrBrokenLanguage(t *testing.T) {
	wrap := func(l *i18n.Locale) *i18n.Locale { return l }
	files := fstest.MapFS{"m/en.json": {Data: []byte(`{}`)}}
	if _, err := i18n.Load(files, "m", wrap); err == nil || !strings.Contains(err.Error(), "ru") {
		t.Errorf("a missing language: %v", err)
	}
	for _, code := range []string{"ru", "bg", "zh-Hans", "el"} {
		files["m/"+code+".json"] = &fstest.MapFile{Data: []byte(`{}`)}
	}
	files["m/el.json"] = &fstest.MapFile{Data: []byte(`{"a": `)}
	if _, err := i18n.Load(files, "m", wrap); err == nil || !strings.Contains(err.Error(), "el.json") {
		t.Errorf("a broken catalogue: %v", err)
	}
}

// Amounts are written from their minor units with the language's
// separators, grouped by thousands, negative ones with their sign.
func TestMoney(t *testing.T) {
	files := fstest.MapFS{}
	for _, code := range []string{"en", "ru", "bg", "zh-Hans", "el"} {
		files["messages/"+code+".json"] = &fstest.MapFile{Data: []byte(`{"number.group": " ", "number.decimal": ",", "format.money": "%[1]s %[2]s"}`)}
	}
	c, err := i18n.Load(files, "messages", func(l *i18n.Locale) *i18n.Locale { return l })
	if err != nil {
		t.Fatal(err)
	}
	bg, _ := c.Exactly("bg")
	for _, tc := range []struct {
		m    domain.Money
		want string
	}{
		{domain.Money{Amount: 129990, Currency: "BGN"}, "1 299,90 BGN"},
		{domain.Money{Amount: 5, Currency: "EUR"}, "0,05 EUR"},
		{domain.Money{Amount: -123456789, Currency: "EUR"}, "-1 234 567,89 EUR"},
		{domain.Money{Amount: 1500, Currency: "JPY"}, "1 500 JPY"},
	} {
		if got := bg.Money(tc.m); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.m, got, tc.want)
		}
	}
}

// The half hour after midnight is 12:31 on a 12-hour clock, 0:31 on a
// 24-hour one (the locale data writes 0:31 on both).
func TestTimeShortAfterMidnight(t *testing.T) {
	c := catalogue(t)
	at := time.Date(2026, 12, 8, 0, 31, 0, 0, time.UTC)
	en, _ := c.Exactly("en")
	if got := en.TimeShort(at); !strings.HasPrefix(got, "12:31") {
		t.Errorf("en: %q, want 12:31 am", got)
	}
	if got := en.TimeShort(at.Add(13 * time.Hour)); !strings.HasPrefix(got, "1:31") {
		t.Errorf("en in the afternoon: %q, want 1:31 pm", got)
	}
	bg, _ := c.Exactly("bg")
	if got := bg.TimeShort(at); strings.HasPrefix(got, "12") {
		t.Errorf("bg: %q, want the 24-hour clock's 0:31", got)
	}
}
