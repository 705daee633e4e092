package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestREADMEQuickStart runs the README's quick start as far as a machine
// can: `make run` is `serve --dev` (checked in the Makefile), which prints
// the console's address and the development accounts; signing in there
// with the printed dev-agent password lands on an empty desk that lists
// the steps of a first claim with a link to the registration form.
func TestREADMEQuickStart(t *testing.T) {
	block := readmeBlock(t, "quickstart")
	if !strings.Contains(block, "make run") {
		t.Fatalf("the quick start does not start with make run:\n%s", block)
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^run:\n\t.*\./cmd/rmaledger serve --dev `).Match(makefile) {
		t.Fatal("make run is not serve --dev")
	}

	addr := freeAddr(t)
	cmd := exec.Command(buildBinary(t), "serve", "--dev", "--addr", addr, "--data-dir", filepath.Join(t.TempDir(), "data"))
	cmd.Env = append(os.Environ(), "RMALEDGER_API_KEYS=")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	printed := regexp.MustCompile(`(?m)^Staff console: (http://\S+)`)
	var console string
	for deadline := time.Now().Add(30 * time.Second); console == ""; time.Sleep(50 * time.Millisecond) {
		if m := printed.FindStringSubmatch(out.String()); m != nil {
			console = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no console address printed:\n%s", out)
		}
	}
	if console != "http://"+addr+"/console" {
		t.Fatalf("printed %q, want the console under %s", console, addr)
	}
	m := regexp.MustCompile(`(?m)^  dev-agent +(\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no dev-agent account printed:\n%s", out)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func(u string) string {
		t.Helper()
		res, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, res.Body)
		return b.String()
	}
	signIn := get(console) // the printed address leads to the sign-in form
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(signIn)
	if token == nil {
		t.Fatalf("the printed address shows no sign-in form:\n%s", signIn)
	}
	res, err := browser.PostForm(console+"/sign-in", url.Values{"csrf": {token[1]}, "name": {"dev-agent"}, "password": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var desk strings.Builder
	_, _ = io.Copy(&desk, res.Body)
	if res.Request.URL.Path != "/console/queues" {
		t.Fatalf("signing in with the printed account ends at %s:\n%s", res.Request.URL, desk.String())
	}
	if !strings.Contains(desk.String(), `class="guide"`) || !strings.Contains(desk.String(), `<a href="/console/register">Register a claim`) {
		t.Fatalf("the empty desk does not walk a new person through a first claim:\n%s", desk.String())
	}
}
