package email

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/rmaledger/rmaledger/notify"
)

func TestLogSender(t *testing.T) {
	var b bytes.Buffer
	l := LogSender{Logger: slog.New(slog.NewTextHandler(&b, nil))}
	m := plainMessage("elena@example.net")
	m.ClaimID = testClaimID
	m.Text = "Your item arrived. Your claim: https://rma.example/portal/c/TOKEN"
	if err := l.SendBatch(context.Background(), []notify.Message{m, m}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"kind=claim.received", "language=en", "links=[https://rma.example/portal/c/TOKEN]", testClaimID.String()} {
		if strings.Count(out, want) != 2 {
			t.Errorf("the log lacks %s twice:\n%s", want, out)
		}
	}
	for _, never := range []string{"elena@example.net", "Your item arrived"} {
		if strings.Contains(out, never) {
			t.Errorf("the log holds %q: no address and no text go to a log\n%s", never, out)
		}
	}
}
