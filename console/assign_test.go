package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/console"
)

// ownershipForm reads the hidden fields of a claim page's "Take ownership" form.
func ownershipForm(t *testing.T, body string) url.Values {
	t.Helper()
	i := strings.Index(body, `class="take-ownership"`)
	if i < 0 {
		t.Fatalf("no take-ownership form on the page")
	}
	form := body[i:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, m := range regexp.MustCompile(`type="hidden" name="([a-z]+)" value="([^"]*)"`).FindAllStringSubmatch(form, -1) {
		v.Set(m[1], m[2])
	}
	return v
}

// tabCount reads a queue tab's count from the queues page.
func tabCount(t *testing.T, body, tab string) string {
	t.Helper()
	m := regexp.MustCompile(`\?tab=` + tab + `"[^>]*>[^<]*<span class="count">(\d+)</span>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s tab", tab)
	}
	return m[1]
}

// TestTakeOwnership: one click assigns the claim to the signed-in person, as
// its actor; the Mine tab then holds it with its assignee shown, the
// Unassigned tab no longer does, and the button is gone from its page.
func TestTakeOwnership(t *testing.T) {
	s := newStack(t)
	mine := s.registerClaim(t, "SN-OWN-1")
	other := s.registerClaim(t, "SN-OWN-2")
	c, _ := s.agent(t)

	before := c.get(console.QueuesPath)
	if tabCount(t, before.Body, "mine") != "0" || tabCount(t, before.Body, "unassigned") != "2" {
		t.Fatalf("before: mine %s, unassigned %s", tabCount(t, before.Body, "mine"), tabCount(t, before.Body, "unassigned"))
	}

	page := c.get(console.Prefix + "/claims/" + mine.ID.String())
	if !strings.Contains(page.Body, "Nobody is assigned") {
		t.Error("the claim page does not say nobody is assigned")
	}
	form := ownershipForm(t, page.Body)
	if form.Get("assignee") != "Ana Agent" || form.Get("csrf") == "" || form.Get("key") == "" || form.Get("version") == "" {
		t.Fatalf("take-ownership form %v", form)
	}
	done := c.post(actionPath(mine.ID, "assign"), form)
	if done.Code != http.StatusSeeOther {
		t.Fatalf("take ownership: %d %s", done.Code, done.Body)
	}
	if again := c.post(actionPath(mine.ID, "assign"), form); again.Code != http.StatusSeeOther {
		t.Fatalf("the same click again: %d %s", again.Code, again.Body)
	}
	st, _, err := s.ledger.Claim(t.Context(), mine.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Assignee != "Ana Agent" || st.Version != mine.Version+1 {
		t.Fatalf("assignee %q at version %d, want Ana Agent at %d (one event for two clicks)", st.Assignee, st.Version, mine.Version+1)
	}

	after := c.get(done.Location) // waits for the read models
	if !strings.Contains(after.Body, "Assignee: Ana Agent") || strings.Contains(after.Body, `class="take-ownership"`) {
		t.Error("the claim page does not show its owner, or still offers to take it")
	}
	q := c.get(console.QueuesPath + "?tab=mine")
	if tabCount(t, q.Body, "mine") != "1" || !strings.Contains(q.Body, ">"+mine.Number+"<") || strings.Contains(q.Body, ">"+other.Number+"<") {
		t.Errorf("the Mine tab does not hold exactly the claim taken: %s", q.Body)
	}
	if !strings.Contains(q.Body, `data-label="Assignee">Ana Agent</td>`) {
		t.Error("the queue does not show the assignee")
	}
	u := c.get(console.QueuesPath + "?tab=unassigned")
	if tabCount(t, u.Body, "unassigned") != "1" || strings.Contains(u.Body, ">"+mine.Number+"<") || !strings.Contains(u.Body, ">"+other.Number+"<") {
		t.Error("the Unassigned tab does not hold exactly the other claim")
	}
}

// TestAssignFormRefusesTwoLines: a name is one line; the refusal is next to
// its field and writes nothing.
func TestAssignFormRefusesTwoLines(t *testing.T) {
	s := newStack(t)
	claim := s.registerClaim(t, "SN-OWN-3")
	c, _ := s.agent(t)
	form := formOf(t, c.get(console.Prefix+"/claims/"+claim.ID.String()).Body, "assign")
	form.Set("assignee", "Ana\nAgent")
	p := c.post(actionPath(claim.ID, "assign"), form)
	if p.Code != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `id="assign-assignee-problem"`) {
		t.Fatalf("two-line name: %d %s", p.Code, p.Body)
	}
	if v := s.version(t, claim.ID); v != claim.Version {
		t.Errorf("a refused assignment wrote: version %d, want %d", v, claim.Version)
	}
}
