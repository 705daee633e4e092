package email

import (
	"context"
	"log/slog"

	"github.com/rmaledger/rmaledger/notify"
)

// LogSender writes each message to a log instead of sending it: the
// sender of every channel in development (serve --dev). It logs the kind,
// the claim, the language, the recipient, the subject and the whole text,
// because in development the data is test data; never use it with real
// customers' data, whose addresses and messages would land in the log.
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
		"claim", m.ClaimID.String(), "language", m.Language, "to", m.Recipient,
		"subject", m.Subject, "text", m.Text, "id", m.ID.String())
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
