package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is this module's path; rule patterns without a dot in their first element are
// relative to it.
const module = "github.com/rmaledger/rmaledger"

// A rule says what a set of this module's packages may not depend on. Patterns follow the go
// command's: "ledger" is one package, "notify/..." a package and everything below it, "..."
// the whole module. A pattern whose first element has a dot ("github.com/...") names a package
// outside the module.
type rule struct {
	// why is the rule in words, as docs/architecture.md states it.
	why string
	// packages are the packages the rule binds, except those in except.
	packages, except []string
	// only, when not nil, lists every package of this module the bound packages may depend on.
	only []string
	// forbid lists packages the bound packages must not depend on.
	forbid []string
	// direct counts only a package's own imports: a library that one package wraps may be
	// reached through that package. Otherwise every dependency counts, direct or not.
	direct bool
}

// rules are the import rules of docs/architecture.md ("Import rules"); keep the two in step.
var rules = []rule{
	{
		why:      "domain is pure: the lifecycle, the rules and money, depending on nothing of the project",
		packages: []string{"domain"},
		only:     []string{},
	},
	{
		why:      "clock and storage are leaves: the time source and the storage failures know nothing of the project",
		packages: []string{"clock", "storage"},
		only:     []string{},
	},
	{
		why:      "i18n and policy know the domain's vocabulary and nothing else of the project",
		packages: []string{"i18n", "policy"},
		only:     []string{"domain"},
	},
	{
		why:      "the event store knows bytes and streams, not claims: it depends only on itself and storage",
		packages: []string{"eventstore/..."},
		only:     []string{"eventstore/...", "storage"},
	},
	{
		why:      "eventlog says what is stored (stream names, event metadata) for both sides: it depends on the domain and the event store at most",
		packages: []string{"eventlog"},
		only:     []string{"domain", "eventstore"},
	},
	{
		why:      "the live feed hands stored events, decoded, to the read side: it depends on the domain and the event store at most",
		packages: []string{"internal/feed"},
		only:     []string{"domain", "eventstore"},
	},
	{
		why:      "the command side (ledger) never depends on the read side or the edges",
		packages: []string{"ledger"},
		forbid:   []string{"projections", "sla", "notify/...", "api/...", "console", "portal/...", "accounts", "cmd/..."},
	},
	{
		why:      "projections build read models from the events alone: no API, page, message or process manager",
		packages: []string{"projections"},
		forbid:   []string{"api/...", "console", "portal/...", "notify/...", "sla", "whatif", "accounts", "documents", "cmd/..."},
	},
	{
		why:      "the read side does not depend on the write side: projections take what is stored from eventlog, never from ledger",
		packages: []string{"projections"},
		forbid:   []string{"ledger"},
	},
	{
		why:      "messages to the outside read the event stream: notify/... never depends on the command side, the read models or the edges",
		packages: []string{"notify/..."},
		forbid:   []string{"ledger", "projections", "sla", "api/...", "console", "portal/...", "cmd/..."},
	},
	{
		why:      "the API does not depend on the staff console or the customer portal",
		packages: []string{"api/..."},
		forbid:   []string{"console", "portal/..."},
	},
	{
		why:      "the customer portal does not depend on the staff console or the API's handlers",
		packages: []string{"portal/..."},
		forbid:   []string{"console", "api"},
	},
	{
		why:      "cmd alone knows every package: nothing depends on cmd/...",
		packages: []string{"..."},
		forbid:   []string{"cmd/..."},
	},
	{
		why:      "test kits serve tests only: no package depends on them",
		packages: []string{"..."},
		forbid:   []string{"eventstore/eventstoretest", "files/blobtest", "files/filestest", "storage/storagetest", "internal/browsertest"},
	},
	{
		why:      "HTTP is the edge's business: only api/..., console, portal/... and cmd/... depend on echo",
		packages: []string{"..."},
		except:   []string{"api/...", "console", "portal/...", "cmd/..."},
		forbid:   []string{"github.com/labstack/echo/..."},
	},
	{
		why:      "watermill is the projections' machinery: only projections imports it",
		packages: []string{"..."},
		except:   []string{"projections"},
		forbid:   []string{"github.com/ThreeDotsLabs/watermill/..."},
		direct:   true,
	},
	{
		why:      "KurrentDB's client lives in its adapter: only eventstore/kurrentdb imports it",
		packages: []string{"..."},
		except:   []string{"eventstore/kurrentdb"},
		forbid:   []string{"github.com/kurrent-io/KurrentDB-Client-Go/..."},
		direct:   true,
	},
	{
		why:      "an outside service's client lives in one adapter: Stripe in payments, S3 in files, SMTP in notify/email",
		packages: []string{"..."},
		except:   []string{"payments", "files", "notify/email"},
		forbid:   []string{"github.com/stripe/...", "github.com/minio/...", "github.com/wneessen/go-mail/..."},
		direct:   true,
	},
}

// pkg is what the rules need of a package: `go list -json` fields.
type pkg struct {
	ImportPath string
	Imports    []string // its own imports
	Deps       []string // every package it depends on, directly or not
}

// TestImportRules lists every package of the module with `go list -deps` and checks each rule.
func TestImportRules(t *testing.T) {
	pkgs := listModule(t)
	for _, v := range check(pkgs, rules) {
		t.Error(v)
	}
}

// TestCheckFindsViolations proves that check reports a broken rule, so that TestImportRules
// passing means the rules hold and not that check sees nothing: a graph in which domain
// imports ledger, ledger reaches api through projections, and a page imports watermill; and
// that a rule naming a package that does not exist is reported too.
func TestCheckFindsViolations(t *testing.T) {
	p := func(path string, imports []string, deps ...string) pkg {
		return pkg{ImportPath: module + "/" + path, Imports: imports, Deps: deps}
	}
	graph := []pkg{
		p("domain", []string{module + "/ledger"}, module+"/ledger"),
		p("ledger", []string{module + "/projections"}, module+"/projections", module+"/api"),
		p("projections", []string{"github.com/ThreeDotsLabs/watermill/message"}, "github.com/ThreeDotsLabs/watermill/message"),
		p("api", []string{module + "/domain"}, module+"/domain"),
		p("console", []string{"github.com/ThreeDotsLabs/watermill/message"}, "github.com/ThreeDotsLabs/watermill/message"),
		p("sla", []string{module + "/projections"}, module+"/projections", "github.com/ThreeDotsLabs/watermill/message"),
	}
	got := check(graph, rules)
	want := []string{
		"domain depends on " + module + "/ledger",
		"ledger depends on " + module + "/projections",
		"ledger depends on " + module + "/api",
		"console imports github.com/ThreeDotsLabs/watermill/message",
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(v string) bool { return strings.HasPrefix(v, w+":") }) {
			t.Errorf("check missed %q; it reported:\n%s", w, strings.Join(got, "\n"))
		}
	}
	stale := check(graph, []rule{{why: "stale", packages: []string{"domain"}, forbid: []string{"nosuch"}}})
	if len(stale) != 1 || !strings.Contains(stale[0], "names nosuch, which matches no package") {
		t.Errorf("check did not report a rule naming a package that does not exist: %q", stale)
	}
	for _, v := range got {
		if strings.HasPrefix(v, "sla ") || strings.HasPrefix(v, "projections ") || strings.HasPrefix(v, "api ") {
			t.Errorf("check reported an allowed dependency: %s", v)
		}
	}
}

// check returns one line per dependency that breaks a rule, and one per rule that binds no
// package or forbids a package of this module that no longer exists (a rename must not
// silently turn a rule off).
func check(pkgs []pkg, rules []rule) []string {
	var violations []string
	for _, r := range rules {
		bound := 0
		for _, p := range pkgs {
			if !matchAny(r.packages, p.ImportPath) || matchAny(r.except, p.ImportPath) {
				continue
			}
			bound++
			deps := p.Deps
			verb := "depends on"
			if r.direct {
				deps, verb = p.Imports, "imports"
			}
			for _, d := range deps {
				inModule := d == module || strings.HasPrefix(d, module+"/")
				if matchAny(r.forbid, d) || (r.only != nil && inModule && !matchAny(r.only, d)) {
					violations = append(violations, fmt.Sprintf("%s %s %s: %s", strings.TrimPrefix(p.ImportPath, module+"/"), verb, d, r.why))
				}
			}
		}
		if bound == 0 {
			violations = append(violations, fmt.Sprintf("rule %q binds no package: was one renamed?", r.why))
		}
		for _, pattern := range slices.Concat(r.packages, r.except, r.only, r.forbid) {
			if !inModule(pattern) {
				continue
			}
			if !slices.ContainsFunc(pkgs, func(p pkg) bool { return match(pattern, p.ImportPath) }) {
				violations = append(violations, fmt.Sprintf("rule %q names %s, which matches no package: was one renamed?", r.why, pattern))
			}
		}
	}
	return violations
}

// matchAny reports whether path matches one of the patterns.
func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(pattern string) bool { return match(pattern, path) })
}

// match reports whether path matches the pattern, the go command's way for "..." at the end.
func match(pattern, path string) bool {
	full := pattern
	switch {
	case pattern == "...":
		full = module + "/..."
	case inModule(pattern):
		full = module + "/" + pattern
	}
	if prefix, ok := strings.CutSuffix(full, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == full
}

// inModule reports whether the pattern names packages of this module: its first element has
// no dot, as a module path's does.
func inModule(pattern string) bool {
	first, _, _ := strings.Cut(pattern, "/")
	return !strings.Contains(first, ".") || pattern == "..."
}

// listModule returns every package of the module (the tools' own modules are not part of it).
func listModule(t *testing.T) []pkg {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-json=ImportPath,Imports,Deps", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkg
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages of %s; is the test run inside the module?", len(pkgs), module)
	}
	return pkgs
}
