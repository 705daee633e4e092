package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
	pairs, fresh, err := devAccountPasswords(path)
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
		case errors.Is(err, accounts.ErrNameTaken) && fresh[name]:
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

// devAccountPasswords reads the file and adds a generated password for
// each role it lacks (all of them when there is none, a role added since
// it was written); fresh names the accounts whose password is new.
func devAccountPasswords(path string) (pairs []string, fresh map[string]bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	pairs, fresh = strings.Fields(string(b)), map[string]bool{}
	for _, role := range roleNames() {
		name := "dev-" + role
		if !slices.ContainsFunc(pairs, func(p string) bool { return strings.HasPrefix(p, name+":") }) {
			pairs = append(pairs, name+":"+accounts.GeneratePassword())
			fresh[name] = true
		}
	}
	if len(fresh) == 0 {
		return pairs, fresh, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(path, []byte(strings.Join(pairs, "\n")+"\n"), 0o600); err != nil {
		return nil, nil, err
	}
	return pairs, fresh, nil
}
