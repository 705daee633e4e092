package browsertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestEachTestStartsWithoutCookies: a cookie that one test's tab got is not sent from the
// next test's tab in the shared Chromium, as with a fresh profile per test.
func TestEachTestStartsWithoutCookies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "first", Path: "/"})
		}
		if c, err := r.Cookie("session"); err == nil {
			w.Write([]byte("<p id=got>" + c.Value + "</p>"))
			return
		}
		w.Write([]byte("<p id=got>none</p>"))
	}))
	defer srv.Close()
	read := func(t *testing.T, tab context.Context, path string) string {
		t.Helper()
		var got string
		if err := chromedp.Run(tab, chromedp.Navigate(srv.URL+path), chromedp.Text(`#got`, &got)); err != nil {
			t.Fatal(err)
		}
		return got
	}
	t.Run("first", func(t *testing.T) {
		tab := New(t)
		read(t, tab, "/set")
		if got := read(t, tab, "/"); got != "first" {
			t.Fatalf("the tab did not keep its cookie: %q", got)
		}
	})
	t.Run("second", func(t *testing.T) {
		if got := read(t, New(t), "/"); got != "none" {
			t.Errorf("the next test's tab sent the cookie %q of the one before", got)
		}
	})
}
