package portal

import (
	"io/fs"
	"regexp"
	"slices"
	"testing"

	"github.com/rmaledger/rmaledger/domain"
)

// TestCatalogueComplete: every language has every key English has, every
// text the templates and the code ask for exists, and every status and
// next step has its text, so that no key ever reaches a customer.
func TestCatalogueComplete(t *testing.T) {
	cat, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	en := cat.All()[0]
	for _, l := range cat.All()[1:] {
		for _, k := range en.Keys() {
			if !l.Has(k) {
				t.Errorf("%s lacks %s", l.Code, k)
			}
		}
		for _, k := range l.Keys() {
			if !en.Has(k) {
				t.Errorf("%s has %s, which English lacks", l.Code, k)
			}
		}
	}
	var wanted []string
	for _, s := range domain.Statuses() {
		wanted = append(wanted, "status."+string(s), "next."+nextStep(domain.State{Status: s, Resolution: &domain.Resolution{}}))
	}
	wanted = append(wanted, "next.awaiting_return")
	for _, k := range []string{domain.ResolutionRepaired, domain.ResolutionReplaced, domain.ResolutionRefunded, domain.ResolutionCredited,
		domain.ResolutionReturnedUnrepaired, domain.ResolutionNoFaultFound, domain.ResolutionResolvedRemotely} {
		wanted = append(wanted, "resolution."+k)
	}
	for _, k := range []string{"file.type", "file.too-large", "file.claim-full", "file.heic"} {
		wanted = append(wanted, k)
	}
	for name := range customerActions {
		wanted = append(wanted, "done."+name, "action."+name)
	}
	for _, f := range formOrder {
		wanted = append(wanted, "field."+f)
	}
	used := regexp.MustCompile(`\.T "([a-z_.\-]+)"|T\("([a-z_.\-]+)"`)
	for _, dir := range []fs.FS{assets} {
		paths, _ := fs.Glob(dir, "assets/*.html")
		for _, p := range paths {
			raw, _ := fs.ReadFile(dir, p)
			for _, m := range used.FindAllStringSubmatch(string(raw), -1) {
				wanted = append(wanted, m[1]+m[2])
			}
		}
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(wanted))) {
		if !en.Has(k) {
			t.Errorf("no text for %s", k)
		}
	}
}
