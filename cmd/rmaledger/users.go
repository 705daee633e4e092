package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rmaledger/rmaledger/accounts"
	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
)

// The people commands. Accounts are events in the event store, so with
// KurrentDB they work while the service runs; the embedded store admits one
// process, so on its data directory the service must be stopped first.
//
//	rmaledger users add --name N --role R [--org O]   the password from standard input, or generated and printed once; --org for a partner
//	rmaledger users list                     names, roles, states; never passwords
//	rmaledger users disable NAME             refused at sign-in; its sessions end
//	rmaledger users enable NAME              may sign in again
//	rmaledger users reset-password NAME      a new password (standard input or generated); its sessions end

const usersUsage = "usage: rmaledger users add --name NAME --role ROLE [--org ORGANISATION] | users list | users disable NAME | users enable NAME | users reset-password NAME  (a password is read from standard input, or generated and printed once)"

// usersCommand dispatches `rmaledger users ...`.
func usersCommand(ctx context.Context, cfg config, a newAccount, logger *slog.Logger, stdout io.Writer) error {
	sub, name := cfg.Args.Num(0), cfg.Args.Num(1)
	switch sub {
	case "add", "list":
	case "disable", "enable", "reset-password":
		if name == "" {
			return usagef("users %s: which account? (%s)", sub, usersUsage)
		}
	default:
		return usagef("%s", usersUsage)
	}
	if sub == "add" && (a.Name == "" || a.Role == "") {
		return usagef("users add: --name and --role are required (roles: %s)", strings.Join(roleNames(), ", "))
	}
	store, err := openStore(ctx, cfg, logger)
	if errors.Is(err, embedded.ErrLocked) {
		return fmt.Errorf("users: %w: the service is running on this data directory; stop it first (the embedded store admits one process; with KurrentDB, --eventstore-url, the commands work while it runs)", err)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	dir, err := openAccounts(ctx, store)
	if err != nil {
		return err
	}
	by := operator()
	switch sub {
	case "add":
		password, generated, err := newPassword(os.Stdin)
		if err != nil {
			return err
		}
		acc, err := dir.AddToOrganisation(ctx, by, a.Name, a.Role, a.Org, password)
		if err != nil {
			return fmt.Errorf("users add: %w", err)
		}
		if acc.Organisation != "" {
			fmt.Fprintf(stdout, "added %s (%s of %s)\n", acc.Name, acc.Role, acc.Organisation)
		} else {
			fmt.Fprintf(stdout, "added %s (%s)\n", acc.Name, acc.Role)
		}
		printPassword(stdout, password, generated)
	case "list":
		return usersList(ctx, dir, stdout)
	case "disable":
		if err := dir.Disable(ctx, by, name); err != nil {
			return fmt.Errorf("users disable: %w", err)
		}
		fmt.Fprintf(stdout, "disabled %s; its sessions have ended\n", name)
	case "enable":
		if err := dir.Enable(ctx, by, name); err != nil {
			return fmt.Errorf("users enable: %w", err)
		}
		fmt.Fprintf(stdout, "enabled %s\n", name)
	case "reset-password":
		if _, err := dir.Get(ctx, name); err != nil {
			return fmt.Errorf("users reset-password: %w", err)
		}
		password, generated, err := newPassword(os.Stdin)
		if err != nil {
			return err
		}
		if err := dir.ResetPassword(ctx, by, name, password); err != nil {
			return fmt.Errorf("users reset-password: %w", err)
		}
		fmt.Fprintf(stdout, "reset the password of %s; its sessions have ended\n", name)
		printPassword(stdout, password, generated)
	}
	return nil
}

func usersList(ctx context.Context, dir *accounts.Directory, stdout io.Writer) error {
	list, err := dir.List(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLE\tSTATE\tLANGUAGE\tCREATED\tPASSWORD SET\tORG")
	for _, a := range list {
		state := "active"
		if a.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Role, state, cmpOrDash(a.Language),
			a.Created.UTC().Format(time.RFC3339), a.PasswordChanged.UTC().Format(time.RFC3339), cmpOrDash(a.Organisation))
	}
	return w.Flush()
}

func cmpOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// openAccounts is the accounts directory over the store, with the API's roles.
func openAccounts(ctx context.Context, store eventstore.Store) (*accounts.Directory, error) {
	return accounts.New(ctx, accounts.Config{Store: store, Roles: roleNames(), CheckOrganisation: checkOrganisation})
}

// checkOrganisation is the API's rule for accounts: a partner belongs to
// an organisation, the staff to none.
func checkOrganisation(role, organisation string) error {
	return api.CheckOrganisation(api.Role(role), organisation)
}

func roleNames() []string {
	var names []string
	for _, r := range api.AllRoles() {
		names = append(names, string(r))
	}
	return names
}

// operator is the actor of a change made from the command line: the
// operating-system user who ran it.
func operator() accounts.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return accounts.Actor{Name: "cli:" + name, Role: string(api.RoleAdmin)}
}

// newPassword reads the first line of standard input when it is a pipe or
// a file; from a terminal (or with nothing given) it generates one, so a
// password is never typed where it echoes.
func newPassword(in *os.File) (password string, generated bool, err error) {
	if fi, err := in.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
		line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("reading the password from standard input: %w", err)
		}
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			return line, false, nil
		}
	}
	return accounts.GeneratePassword(), true, nil
}

func printPassword(stdout io.Writer, password string, generated bool) {
	if generated {
		fmt.Fprintf(stdout, "password (shown this once; only its hash is kept):\n%s\n", password)
	}
}
