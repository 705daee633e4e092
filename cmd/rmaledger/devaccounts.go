package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/eventstore"
)

// devAccountsFile holds the development accounts' names and passwords
// (name:password, one a line), so that they survive restarts like the
// development API keys.
const devAccountsFile = "dev-accounts"

// devOrganisation is the partner organisation of the development partner
// account, dev-partner.
const devOrganisation = "dev-dealer"

// devActor is the actor of the development accounts' events.
var devActor = accounts.Actor{Name: "rmaledger --dev", Role: "admin"}

// devAccounts makes sure, with --dev, that one account per role exists
// (dev-agent, dev-technician, ...) with the password kept in the data
// directory, and prints them for signing in to the console. Without --dev
// it does nothing.
func devAccounts(ctx context.Context, cfg config, dir *accounts.Directory, stdout io.Writer) error {
	if !cfg.Dev {
		return nil
	}
	path := filepath.Join(cfg.DataDir, devAccountsFile)
	pairs, created, err := devAccountPasswords(path)
	if err != nil {
		return err
	}
	var lines []string
	for _, p := range pairs {
		name, password, _ := strings.Cut(p, ":")
		role := strings.TrimPrefix(name, "dev-")
		org := ""
		if role == string(api.RolePartner) {
			org = devOrganisation
		}
		_, err := dir.AddToOrganisation(ctx, devActor, name, role, org, password)
		switch {
		case errors.Is(err, accounts.ErrNameTaken) && created:
			// The store has the account but the file was lost: the new
			// password is the one printed.
			err = dir.ResetPassword(ctx, devActor, name, password)
		case errors.Is(err, accounts.ErrNameTaken):
			err = nil
		}
		if errors.Is(err, eventstore.ErrUnavailable) {
			// The service starts and waits for its store; the accounts are
			// made at a start that finds it.
			fmt.Fprintf(stdout, "Development accounts not made: %v; they are made at the next start that reaches the event store\n", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("development account %s: %w", name, err)
		}
		lines = append(lines, fmt.Sprintf("  %-15s %s\n", name, password))
	}
	fmt.Fprintf(stdout, "Development accounts for the console (stored in %s):\n%s", path, strings.Join(lines, ""))
	return nil
}

// devAccountPasswords reads the file, or writes a new one with a generated
// password per role; created tells which.
func devAccountPasswords(path string) (pairs []string, created bool, err error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.Fields(string(b)), false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, false, err
	}
	for _, role := range roleNames() {
		pairs = append(pairs, "dev-"+role+":"+accounts.GeneratePassword())
	}
	if err := os.WriteFile(path, []byte(strings.Join(pairs, "\n")+"\n"), 0o600); err != nil {
		return nil, false, err
	}
	return pairs, true, nil
}
