package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/eventlog"
	"github.com/rmaledger/rmaledger/eventstore"
)

// The audit commands (see docs/audit.md):
//
//	rmaledger keys generate [FILE]                         an Ed25519 key pair for checkpoints
//	rmaledger audit verify [--claim ID] [--from POS]       recompute every chain; exit 1 at a break
//	rmaledger audit export [--from POS] [--to POS] [--claim ID] > FILE
//	rmaledger audit check FILE --public-key K              verify an export offline
//	rmaledger audit check-document FILE.pdf                which issued document a PDF is; exit 1: none

// errVerificationFailed makes the command exit non-zero after it printed
// the break itself.
var errVerificationFailed = errors.New("verification failed")

// auditOptions are the audit commands' own options.
type auditOptions struct {
	Claim    string // verify, export: one claim
	From, To string // verify, export: the positions
}

// devSigningKeyFile is the key --dev makes when none is configured.
const devSigningKeyFile = "dev-signing-key"

// keysCommand runs `rmaledger keys generate [FILE]`.
func keysCommand(cfg config, stdout io.Writer) error {
	if cfg.Args.Num(0) != "generate" {
		return usagef("usage: rmaledger keys generate [FILE]  (FILE defaults to --signing-key-file, else DATA-DIR/signing-key.pem)")
	}
	path := cfg.Args.Num(1)
	if path == "" {
		path = cfg.SigningKeyFile
	}
	if path == "" {
		path = filepath.Join(cfg.DataDir, "signing-key.pem")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	pub, err := generateKeyPair(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "private key: %s (keep it secret; point --signing-key-file at it)\n", path)
	fmt.Fprintf(stdout, "public key:  %s.pub\n", path)
	fmt.Fprintf(stdout, "key id:      %s\n", audit.KeyID(pub))
	fmt.Fprintf(stdout, "%s\n", audit.EncodePublicKey(pub))
	return nil
}

// generateKeyPair writes a new private key to path (0600) and its public
// key to path.pub; an existing file is never overwritten.
func generateKeyPair(path string) (ed25519.PublicKey, error) {
	key, err := audit.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := audit.WritePrivateKey(path, key); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%s exists; a signing key is never overwritten (checkpoints signed with it would become unverifiable)", path)
		}
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	if err := audit.WritePublicKey(path+".pub", pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// loadSigner reads the configured signing key; with --dev and none
// configured it makes (or reuses) one in the data directory. No key means
// no checkpoints: nil, and serve says so.
func loadSigner(cfg config, logger *slog.Logger) (*audit.Signer, error) {
	path := cfg.SigningKeyFile
	if path == "" && cfg.Dev {
		path = filepath.Join(cfg.DataDir, devSigningKeyFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if _, err := generateKeyPair(path); err != nil {
				return nil, err
			}
			logger.Info("generated a development signing key for audit checkpoints", "file", path)
		}
	}
	if path == "" {
		return nil, nil
	}
	key, err := audit.ReadPrivateKey(path)
	if err != nil {
		return nil, err
	}
	return audit.NewSigner(key), nil
}

// startAudit wires verification and checkpoints for serve: the signer, the
// periodic checkpointer (stopped by the returned function, which serve
// calls before closing the store) and the API's audit settings.
func startAudit(ctx context.Context, cfg config, store eventstore.Store, logger *slog.Logger) (api.AuditConfig, func(), error) {
	out := api.AuditConfig{DensePositions: cfg.EventStoreURL == "", Withheld: withheld}
	signer, err := loadSigner(cfg, logger)
	if err != nil {
		return out, nil, err
	}
	if signer == nil {
		logger.Warn("no signing key configured: audit checkpoints are not signed, so a removed stream would go unnoticed; make one with `rmaledger keys generate` and set --signing-key-file")
		return out, func() {}, nil
	}
	keys := audit.NewKeys(signer.Public())
	if cfg.PublicKey != "" {
		pub, err := readPublicKey(cfg.PublicKey)
		if err != nil {
			return out, nil, err
		}
		keys[audit.KeyID(pub)] = pub
	}
	cp, err := audit.NewCheckpointer(store, audit.CheckpointerConfig{Signer: signer, Interval: cfg.CheckpointInterval, Keys: keys, Logger: logger})
	if err != nil {
		return out, nil, err
	}
	out.Checkpointer, out.Keys = cp, cp.Keys()
	logger.Info("audit checkpoints", "key_id", signer.KeyID(), "interval", cfg.CheckpointInterval)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cp.Run(runCtx)
	}()
	return out, func() { cancel(); <-done }, nil
}

// readPublicKey takes a key as printed by keys generate, or a PEM file.
func readPublicKey(spec string) (ed25519.PublicKey, error) {
	if b, err := os.ReadFile(spec); err == nil {
		return audit.ParsePublicKey(string(b))
	}
	return audit.ParsePublicKey(spec)
}

// verifyKeys are the public keys `audit verify` checks signatures with:
// --public-key, else the public half of the configured signing key.
func verifyKeys(cfg config) (audit.Keys, error) {
	if cfg.PublicKey != "" {
		pub, err := readPublicKey(cfg.PublicKey)
		if err != nil {
			return nil, err
		}
		return audit.NewKeys(pub), nil
	}
	for _, path := range []string{cfg.SigningKeyFile, filepath.Join(cfg.DataDir, devSigningKeyFile)} {
		if path == "" {
			continue
		}
		if b, err := os.ReadFile(path + ".pub"); err == nil {
			pub, err := audit.ParsePublicKey(string(b))
			if err != nil {
				return nil, err
			}
			return audit.NewKeys(pub), nil
		}
		if key, err := audit.ReadPrivateKey(path); err == nil {
			return audit.NewKeys(key.Public().(ed25519.PublicKey)), nil
		}
	}
	return audit.Keys{}, nil
}

// auditCommand runs `rmaledger audit verify|export|check|check-document`.
func auditCommand(ctx context.Context, cfg config, a auditOptions, logger *slog.Logger, stdout io.Writer) error {
	switch cfg.Args.Num(0) {
	case "verify":
		return auditVerify(ctx, cfg, a, logger, stdout)
	case "export":
		return auditExport(ctx, cfg, a, logger, stdout)
	case "check":
		return auditCheck(cfg, stdout)
	case "check-document":
		return auditCheckDocument(ctx, cfg, logger, stdout)
	}
	return usagef("usage: rmaledger audit verify [--claim ID] [--from POS] | export [--from POS] [--to POS] [--claim ID] | check FILE --public-key K | check-document FILE.pdf")
}

func claimStream(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	id, err := uuid.Parse(raw)
	if err != nil || id == uuid.Nil {
		return "", fmt.Errorf("--claim %q is not a claim id", raw)
	}
	return eventlog.Claims.Stream(id), nil
}

func parsePosition(flag, raw string) (eventstore.Position, error) {
	if raw == "" {
		return eventstore.Start, nil
	}
	p, err := eventstore.ParsePosition(raw)
	if err != nil {
		return p, fmt.Errorf("--%s: %w", flag, err)
	}
	return p, nil
}

func auditVerify(ctx context.Context, cfg config, a auditOptions, logger *slog.Logger, stdout io.Writer) error {
	stream, err := claimStream(a.Claim)
	if err != nil {
		return err
	}
	from, err := parsePosition("from", a.From)
	if err != nil {
		return err
	}
	keys, err := verifyKeys(cfg)
	if err != nil {
		return err
	}
	if len(keys) == 0 && stream == "" {
		logger.Warn("no public key: give --public-key (or --signing-key-file); any signed checkpoint will be reported as unverifiable")
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("%w (is the service running? then use GET /v1/audit/verify)", err)
	}
	defer store.Close()
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		return fmt.Errorf("opening the claims' files to check them: %w", err)
	}
	var r audit.Report
	if stream != "" {
		r, err = audit.VerifyStream(ctx, store, stream, blobs)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return fmt.Errorf("no claim %s", a.Claim)
		}
	} else {
		r, err = audit.Verify(ctx, store, audit.VerifyOptions{Keys: keys, From: from, DensePositions: cfg.EventStoreURL == "", Files: blobs})
	}
	if err != nil {
		return err
	}
	if stream != "" {
		fmt.Fprintf(stdout, "claim %s: %d events checked in %s; %d files checked\n", a.Claim, r.Events, r.Took.Round(time.Millisecond), r.Files)
	} else {
		fmt.Fprintf(stdout, "%d events in %d streams checked from position %s in %s (%.0f events/s)\n",
			r.Events, r.Streams, r.From, r.Took.Round(time.Millisecond), float64(r.Events)/max(r.Took.Seconds(), 1e-9))
		fmt.Fprintf(stdout, "ledger-wide chain: %d events, head %s at position %s\n", r.Count, r.Head, r.Position)
		fmt.Fprintf(stdout, "claims' files: %d checked against their SHA-256 (an erased customer's file is checked as sealed; erasure is not tampering)\n", r.Files)
		if r.LastCheckpoint != nil {
			fmt.Fprintf(stdout, "checkpoints: %d verified, newest at position %s signed %s by %s; %d events after it\n",
				r.Checkpoints, r.LastCheckpoint.Position, r.LastCheckpoint.Time, r.LastCheckpoint.KeyID, r.Uncovered)
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	if !r.OK {
		fmt.Fprintf(stdout, "BROKEN: %v\n", r.Break)
		printBreak(stdout, r.Break)
		return errVerificationFailed
	}
	fmt.Fprintln(stdout, "OK")
	return nil
}

func printBreak(w io.Writer, b *audit.Break) {
	fmt.Fprintf(w, "  kind:     %s\n", b.Kind)
	if b.Stream != "" {
		fmt.Fprintf(w, "  stream:   %s\n  revision: %d\n", b.Stream, b.Revision)
	}
	if b.Position != "" {
		fmt.Fprintf(w, "  position: %s\n", b.Position)
	}
	if b.EventID != "" {
		fmt.Fprintf(w, "  event:    %s\n", b.EventID)
	}
	fmt.Fprintf(w, "  expected: %s\n  found:    %s\n", b.Expected, b.Found)
	if b.Detail != "" {
		fmt.Fprintf(w, "  detail:   %s\n", b.Detail)
	}
}

func auditExport(ctx context.Context, cfg config, a auditOptions, logger *slog.Logger, stdout io.Writer) error {
	stream, err := claimStream(a.Claim)
	if err != nil {
		return err
	}
	from, err := parsePosition("from", a.From)
	if err != nil {
		return err
	}
	to, err := parsePosition("to", a.To)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("%w (is the service running? then use GET /v1/audit/export)", err)
	}
	defer store.Close()
	sum, err := audit.Export(ctx, store, stdout, audit.ExportOptions{From: from, To: to, Stream: stream, Withheld: withheld})
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return fmt.Errorf("no claim %s", a.Claim)
	}
	if err != nil {
		return err
	}
	logger.Info("exported", "events", sum.Events, "hashes", sum.Hashes, "checkpoints", sum.Checkpoints)
	if sum.Uncovered > 0 {
		logger.Warn("events after the newest checkpoint cannot be checked offline until a later checkpoint covers them; sign one (POST /v1/audit/checkpoints) and export again", "uncovered", sum.Uncovered)
	}
	return nil
}

func auditCheck(cfg config, stdout io.Writer) error {
	path := cfg.Args.Num(1)
	if path == "" || cfg.PublicKey == "" {
		return usagef("usage: rmaledger audit check FILE --public-key K  (K: the base64 key keys generate printed, or its .pub file)")
	}
	pub, err := readPublicKey(cfg.PublicKey)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := audit.Check(f, audit.NewKeys(pub))
	if err != nil {
		return err
	}
	scope := "the whole ledger"
	if r.Claim != "" {
		scope = strings.TrimPrefix(r.Claim, eventlog.Claims.Prefix())
	}
	fmt.Fprintf(stdout, "%s: %d events checked in full, %d as hashes, from %s; %d checkpoints verified with key %s\n",
		scope, r.Events, r.Hashes, r.Anchor, r.Checkpoints, audit.KeyID(pub))
	for _, w := range r.Warnings {
		fmt.Fprintln(stdout, "note:", w)
	}
	if !r.OK {
		fmt.Fprintf(stdout, "BROKEN: %v\n", r.Break)
		printBreak(stdout, r.Break)
		return errVerificationFailed
	}
	fmt.Fprintln(stdout, "OK")
	return nil
}
