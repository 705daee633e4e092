package email

import (
	"context"
	"log/slog"
	"regexp"

	"github.com/rmaledger/rmaledger/notify"
)

// links finds the addresses a message's text links to.
var links = regexp.MustCompile(`https?://\S+`)

// LogSender writes each message to a log instead of sending it: the
// sender of e-mail and the desk's alerts in development (serve --dev). It
// logs what the message is (kind, claim, language, id) and the links its
// text carries, such as the private link a developer opens, but no
// address, no name and no text: a log is no place for personal data.
type LogSender struct {
	Logger *slog.Logger
}

// Send logs m.
func (l LogSender) Send(_ context.Context, m notify.Message) error {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Info("message (not sent: development)", "channel", string(m.Channel), "kind", m.Kind,
		"claim", m.ClaimID.String(), "language", m.Language, "links", links.FindAllString(m.Text, -1), "id", m.ID.String())
	return nil
}

// SendBatch logs each message.
func (l LogSender) SendBatch(ctx context.Context, ms []notify.Message) error {
	for _, m := range ms {
		if err := l.Send(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
