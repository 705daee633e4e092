package payments

import (
	"net/http/httptest"
	"testing"
)

// TestCheckoutPageSpeaksFiveLanguages: every text of the sandbox's checkout page exists in each
// of the status page's languages, and the language follows ?lang= or Accept-Language.
func TestCheckoutPageSpeaksFiveLanguages(t *testing.T) {
	for lang := range messages {
		for key := range messages["en"] {
			if messages[lang][key] == "" {
				t.Errorf("%s has no %q", lang, key)
			}
		}
	}
	if len(messages) != 5 {
		t.Errorf("%d languages, want en ru bg zh el", len(messages))
	}
	for _, c := range []struct{ query, accept, want string }{
		{"", "", "en"},
		{"?lang=el", "", "el"},
		{"", "zh-CN,zh;q=0.9", "zh"},
		{"", "bg-BG,bg;q=0.9,en;q=0.5", "bg"},
		{"?lang=ru", "el", "ru"},
		{"?lang=xx", "fr", "en"},
	} {
		r := httptest.NewRequest("GET", "/payments/sandbox/checkout/x"+c.query, nil)
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if got := pageLanguage(r); got != c.want {
			t.Errorf("%q with Accept-Language %q: %s, want %s", c.query, c.accept, got, c.want)
		}
	}
}
