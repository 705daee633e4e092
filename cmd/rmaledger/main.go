// Command rmaledger runs the RMA Ledger service and its operator tools.
//
//	rmaledger serve [--dev] [--sandbox]               serve the HTTP API (--sandbox: on a test clock)
//	rmaledger projections status                     each read model's checkpoint and lag
//	rmaledger projections rebuild [claims|status|compensations|timers|audit_trail]    rebuild read models from the log (service stopped)
//	rmaledger backup DIR                             a consistent copy of the event log (no keys), while serving
//	rmaledger backup-keys DIR                        the personal-data key store, into a directory of its own
//	rmaledger restore DIR                            a backup of the log into an empty --data-dir
//	rmaledger restore-keys DIR                       a key backup into place, before the service starts
//	rmaledger keys add --role R [--name N] [--expires D] a new API key, printed once; only its hash is kept
//	rmaledger keys list                              the API keys: names, roles, times (never keys)
//	rmaledger keys revoke NAME                       refuse a key from the running service's next request on
//	rmaledger keys generate [FILE]                   an Ed25519 key pair that signs audit checkpoints
//	rmaledger users add --name N --role R            a person who signs in to the console (password from stdin, or generated and printed once)
//	rmaledger users list|disable NAME|enable NAME|reset-password NAME  the people; a disable or reset ends their sessions
//	rmaledger audit verify [--claim ID] [--from POS] recompute the hash chains; exit 1 at the first break
//	rmaledger audit export [--from] [--to] [--claim] JSON Lines an auditor can check offline
//	rmaledger audit check FILE --public-key K        check an export without the service
//	rmaledger policy whatif --policy F [--since D]   the recorded claims replayed under a candidate policy; writes nothing
//	rmaledger clock show|advance STEP|set INSTANT    move a sandbox service's test clock (serve --sandbox)
//	rmaledger help [COMMAND]                         the commands, or one command's usage
//
// Each command has its own flags, each also an RMALEDGER_* environment
// variable (commands.go declares them); `rmaledger COMMAND --help` lists
// a command's. Exit codes: 0 done, 1 failed, 2 a wrong command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// build is the version stamped by the linker (-X main.build=...).
var build = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if code := exitCode(err); code != exitOK {
		fmt.Fprintln(os.Stderr, "rmaledger:", err)
		os.Exit(code)
	}
}

// errHelpShown ends run after --help or --version, successfully.
var errHelpShown = errors.New("help shown")

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want json or text", format)
}
