package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rmaledger/rmaledger/api"
)

// The API key commands. They only edit the keys file (see api.AddKey), so
// they work while the service runs, and it sees each change on its next
// request:
//
//	rmaledger keys add --role R [--org O] [--name N] [--expires 720h]   prints the new key, once
//	rmaledger keys list                                       names, roles, times; never keys
//	rmaledger keys revoke NAME                                refused from the next request on
//	rmaledger keys generate [FILE]                            the audit signing key (audit.go)

// keysMain dispatches `rmaledger keys ...`.
func keysMain(cfg config, k newAccount, stdout io.Writer) error {
	switch cfg.Args.Num(0) {
	case "add":
		return keysAdd(cfg, k, stdout)
	case "list":
		return keysList(cfg, stdout)
	case "revoke":
		return keysRevoke(cfg, stdout)
	case "generate":
		return keysCommand(cfg, stdout)
	}
	return usagef("usage: rmaledger keys add --role ROLE [--org ORGANISATION] [--name NAME] [--expires 720h] | keys list | keys revoke NAME | keys generate [FILE]")
}

// keyFilePath is where the API keys file is: --api-keys-file, else in the
// data directory.
func keyFilePath(cfg config) string {
	if cfg.APIKeysFile != "" {
		return cfg.APIKeysFile
	}
	return filepath.Join(cfg.DataDir, api.KeyFileName)
}

func keysAdd(cfg config, k newAccount, stdout io.Writer) error {
	if k.Role == "" {
		return usagef("keys add: --role is required (agent, technician, finance, auditor, admin, or partner with --org)")
	}
	path := keyFilePath(cfg)
	secret, rec, err := api.AddKey(path, api.NewKey{Role: api.Role(k.Role), Organisation: k.Org, Name: k.Name, TTL: k.Expires}, time.Now())
	if err != nil {
		return fmt.Errorf("keys add: %w", err)
	}
	fmt.Fprintf(stdout, "name:    %s\nrole:    %s\n", rec.Name, rec.Role)
	if rec.Organisation != "" {
		fmt.Fprintf(stdout, "org:     %s\n", rec.Organisation)
	}
	if rec.ExpiresAt != nil {
		fmt.Fprintf(stdout, "expires: %s\n", rec.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "file:    %s\n", path)
	fmt.Fprintf(stdout, "key (shown this once; only its hash is kept):\n%s\n", secret)
	return nil
}

func keysList(cfg config, stdout io.Writer) error {
	path := keyFilePath(cfg)
	records, err := api.ReadKeyFile(path)
	if err != nil {
		return err
	}
	now := time.Now()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLE\tSTATE\tCREATED\tEXPIRES\tREVOKED\tSOURCE\tORG")
	for _, r := range records {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Role, r.State(now),
			r.CreatedAt.Format(time.RFC3339), timeOrDash(r.ExpiresAt), timeOrDash(r.RevokedAt), path, cmpOrDash(r.Organisation))
	}
	// Keys from the environment are listed too, so that the list is every
	// key the service accepts; they are removed from the environment, not
	// revoked here.
	if cfg.APIKeys != "" {
		env, err := api.ParseKeys(cfg.APIKeys)
		if err != nil {
			return err
		}
		for _, k := range env.List() {
			fmt.Fprintf(w, "%s\t%s\tactive\t-\t-\t-\tRMALEDGER_API_KEYS\t-\n", k.Name, k.Role)
		}
	}
	return w.Flush()
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func keysRevoke(cfg config, stdout io.Writer) error {
	name := cfg.Args.Num(1)
	if name == "" {
		return usagef("usage: rmaledger keys revoke NAME  (rmaledger keys list shows the names)")
	}
	rec, err := api.RevokeKey(keyFilePath(cfg), name, time.Now())
	if errors.Is(err, api.ErrNoSuchKey) && cfg.APIKeys != "" {
		if env, perr := api.ParseKeys(cfg.APIKeys); perr == nil {
			for _, k := range env.List() {
				if k.Name == name {
					return fmt.Errorf("keys revoke: %s comes from RMALEDGER_API_KEYS: remove it there and restart", name)
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("keys revoke: %w", err)
	}
	fmt.Fprintf(stdout, "revoked %s (%s) as of %s; a running service refuses it from its next request\n", rec.Name, rec.Role, rec.RevokedAt.Format(time.RFC3339))
	return nil
}

// devKeysFile holds the keys --dev generated, so they survive restarts.
const devKeysFile = "dev-api-keys"

// loadKeys gathers the keys serve accepts: RMALEDGER_API_KEYS (or, with
// none and --dev, one generated key per role kept in the data directory)
// and the keys file, which the service follows while it runs.
func loadKeys(cfg config, logger *slog.Logger, stdout io.Writer) (*api.Keys, error) {
	spec := cfg.APIKeys
	if spec == "" && cfg.Dev {
		var err error
		if spec, err = devKeys(cfg.DataDir); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "Development API keys (stored in %s):\n", filepath.Join(cfg.DataDir, devKeysFile))
		for _, pair := range strings.Split(spec, ",") {
			role, key, _ := strings.Cut(pair, ":")
			fmt.Fprintf(stdout, "  %-11s %s\n", role, key)
		}
	}
	keys, err := api.ParseKeys(spec)
	if err != nil {
		return nil, err
	}
	path := keyFilePath(cfg)
	if err := keys.UseFile(path, logger); err != nil {
		return nil, fmt.Errorf("API keys file: %w", err)
	}
	if keys.Len() == 0 {
		return nil, fmt.Errorf("no API keys configured: add one with `rmaledger keys add --role admin` (kept in %s), set RMALEDGER_API_KEYS=\"role:key,...\", or run with --dev for generated development keys", path)
	}
	return keys, nil
}

func devKeys(dir string) (string, error) {
	path := filepath.Join(dir, devKeysFile)
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	var pairs []string
	for _, role := range api.Roles() {
		secret := make([]byte, 24)
		if _, err := rand.Read(secret); err != nil {
			return "", err
		}
		pairs = append(pairs, fmt.Sprintf("%s:%s-%s", role, role, base64.RawURLEncoding.EncodeToString(secret)))
	}
	spec := strings.Join(pairs, ",")
	if err := os.WriteFile(path, []byte(spec+"\n"), 0o600); err != nil {
		return "", err
	}
	return spec, nil
}
