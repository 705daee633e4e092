package main

import (
	"log/slog"

	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/privacy"
)

// openPrivacy opens the key store of the personal-data keys (its own file,
// by default DATA-DIR/keys/pii-keys.db; see docs/privacy.md) and returns
// the codec the ledger seals with, and close.
func openPrivacy(cfg config) (*privacy.Codec, func(), error) {
	ks, err := privacy.OpenSQLite(keyStorePath(cfg))
	if err != nil {
		return nil, nil, err
	}
	return privacy.NewCodec(ks), func() { ks.Close() }, nil
}

// revealed is the store the read models read: personal fields opened, or
// "[erased]". An envelope that does not open is logged and left sealed
// (see privacy.Reveal).
func revealed(store eventstore.Store, codec *privacy.Codec, logger *slog.Logger) eventstore.Store {
	return privacy.Reveal(store, codec, func(rec eventstore.RecordedEvent, err error) {
		logger.Error("personal data does not open: the event was altered; run rmaledger audit verify",
			"event_id", rec.ID, "stream", rec.Stream, "revision", rec.Revision, "error", err)
	})
}
