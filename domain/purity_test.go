package domain_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPurity enforces the import rule of architecture.md: domain does no I/O and has no
// hidden inputs (clock, randomness), so decisions replay identically.
//
// It checks, with `go list -deps`:
//   - every non-standard package domain depends on, directly or not, is github.com/google/uuid;
//   - domain itself imports none of the forbidden standard packages.
//
// The forbidden list applies to domain's own imports, not to the whole dependency graph: fmt
// itself depends on os, and uuid on net and crypto/rand (for the functions domain must not
// call), so a transitive ban could never pass. That domain does not call them is checked
// on the source: no non-test file may contain the clock or uuid constructors.
func TestPurity(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-json", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{"os", "net", "database/sql", "math/rand", "crypto/rand", "syscall", "log", "unsafe", "runtime/cgo"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var pkg struct {
			ImportPath string
			Standard   bool
			Imports    []string
		}
		if err := dec.Decode(&pkg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch {
		case pkg.ImportPath == "github.com/rmaledger/rmaledger/domain":
			for _, imp := range pkg.Imports {
				if slices.ContainsFunc(forbidden, func(f string) bool { return imp == f || strings.HasPrefix(imp, f+"/") }) {
					t.Errorf("domain imports %s", imp)
				}
			}
		case !pkg.Standard && pkg.ImportPath != "github.com/google/uuid":
			t.Errorf("domain depends on non-standard package %s", pkg.ImportPath)
		}
	}

	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{"time.Now(", "time.Since(", "time.Until(", "time.Sleep(", "time.After(", "time.Tick(", "time.NewTimer(", "uuid.New"} {
			if bytes.Contains(src, []byte(banned)) {
				t.Errorf("%s contains %s: time and identifiers are arguments in domain", f, banned)
			}
		}
	}
}
