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
	if err := l.SendBatch(context.Background(), []notify.Message{m, m}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"kind=claim.received", "language=en", `subject="Claim RMA-1"`, `text="Your item arrived."`, testClaimID.String()} {
		if strings.Count(out, want) != 2 {
			t.Errorf("the log lacks %s twice:\n%s", want, out)
		}
	}
}
