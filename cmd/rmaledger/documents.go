package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/documents"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
)

// documentsConfig is the documents' settings: the same for the service that issues them and
// for `audit check-document`, which renders them again to confirm a paper's bytes.
func documentsConfig(cfg config) documents.Config {
	c := documents.Config{
		Company: documents.Company{
			Name:    cfg.CompanyName,
			Address: strings.ReplaceAll(cfg.CompanyAddress, `\n`, "\n"),
		},
		PublicURL: cfg.PublicURL,
	}
	if cfg.DocumentsDir != "" {
		c.Templates = os.DirFS(cfg.DocumentsDir)
	}
	return c
}

// newDocuments makes the documents service over the ledger and the policies (which say by
// when the goods are due, and the dates' time zone); New checks the templates.
func newDocuments(cfg config, store eventstore.Store, claims documents.ClaimEvents, policies *domain.PolicyBook) (*documents.Service, error) {
	r, err := documents.New(documentsConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("documents (--documents-dir %q): %w", cfg.DocumentsDir, err)
	}
	return &documents.Service{Renderer: r, Claims: claims, Store: store, Policies: policies}, nil
}

// auditCheckDocument runs `rmaledger audit check-document FILE.pdf`: which issued document
// the file is, rendered again from the ledger to confirm its bytes; exit 1 when it is none.
func auditCheckDocument(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
	path := cfg.Args.Num(1)
	if path == "" {
		return usagef("usage: rmaledger audit check-document FILE.pdf")
	}
	file, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("%w (is the service running? then upload the file on the console's auditor page)", err)
	}
	defer store.Close()
	codec, closeKeys, err := openPrivacy(cfg)
	if err != nil {
		return err
	}
	defer closeKeys()
	policies, err := loadPolicy(cfg.PolicyFile, time.Now())
	if err != nil {
		return err
	}
	claims, err := ledger.New(store, ledger.Config{Privacy: codec, Policies: policies})
	if err != nil {
		return err
	}
	docs, err := newDocuments(cfg, store, claims, policies)
	if err != nil {
		return err
	}
	m, err := docs.Check(ctx, file)
	if errors.Is(err, documents.ErrNoMatch) {
		fmt.Fprintf(stdout, "%s matches no document issued from the ledger\n", path)
		return errVerificationFailed
	}
	if err != nil {
		return err
	}
	printMatch(stdout, path, m)
	return nil
}

func printMatch(w io.Writer, path string, m documents.Match) {
	i := m.Issued
	fmt.Fprintf(w, "%s is the %s of claim %s (%s) at version %d, in %s\n", path, i.Kind, i.Number, i.ClaimID, i.Version, i.Language)
	fmt.Fprintf(w, "issued by %s (%s) at %s: event %s, %s revision %d\n", i.IssuedBy, i.Role, i.IssuedAt.Format("2006-01-02T15:04:05Z07:00"), m.EventID, m.Stream, m.Revision)
	if m.Reproduced {
		fmt.Fprintf(w, "rendered again from the ledger at version %d: the same bytes (SHA-256 %s)\n", i.Version, i.SHA256)
	} else {
		fmt.Fprintf(w, "rendered again from the ledger at version %d: different bytes (the customer's data was erased since, or the documents' settings changed); the file is still the one issued, SHA-256 %s\n", i.Version, i.SHA256)
	}
}
