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
//
// Configuration comes from flags and RMALEDGER_* environment variables;
// `rmaledger --help` lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ardanlabs/conf/v3"
)

// build is the version stamped by the linker (-X main.build=...).
var build = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		if errors.Is(err, errHelpShown) {
			return
		}
		fmt.Fprintln(os.Stderr, "rmaledger:", err)
		os.Exit(1)
	}
}

// errHelpShown ends run after --help or --version, successfully.
var errHelpShown = errors.New("help shown")

// run parses the configuration and runs the subcommand; it is the only
// place that knows every package.
func run(ctx context.Context, stdout io.Writer) error {
	// The command words come first ("projections rebuild claims"); conf
	// stops reading flags at the first word, so hand it the flags first and
	// the words after the command as its positional arguments.
	command, words, flags := "", []string{}, []string{}
	for i, arg := range os.Args[1:] {
		if strings.HasPrefix(arg, "-") {
			flags = os.Args[1+i:]
			break
		}
		words = append(words, arg)
	}
	if len(words) > 0 {
		command, words = words[0], words[1:]
	}
	os.Args = append(append([]string{os.Args[0]}, flags...), words...)
	var cfg config
	cfg.Version = conf.Version{Build: build, Desc: "RMA Ledger: an event-sourced claims ledger for RMA and warranty service.\nCommands: serve, projections status, projections rebuild [" + readModelNames + "], backup DIR, backup-keys DIR, restore DIR, restore-keys DIR, keys add|list|revoke, keys generate [FILE], users add|list|disable|enable|reset-password, audit verify|export|check|check-document, policy whatif, clock show|advance|set"}
	help, err := conf.Parse("RMALEDGER", &cfg)
	if err != nil {
		if errors.Is(err, conf.ErrHelpWanted) || errors.Is(err, conf.ErrVersionWanted) {
			fmt.Fprintln(stdout, help)
			return errHelpShown
		}
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// SQLite opens databases by file: URI, where a relative path would read
	// as a host name; the logs also say plainly where the data is.
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return err
	}
	logOut := stdout
	if command != "serve" && command != "" {
		logOut = os.Stderr // keep a tool's own output clean for pipes
	}
	logger, err := newLogger(logOut, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	switch command {
	case "serve", "":
		return serve(ctx, cfg, logger, stdout)
	case "projections":
		return projectionsCommand(ctx, cfg, logger, stdout)
	case "backup":
		return backupCommand(ctx, cfg, stdout)
	case "backup-keys":
		return backupKeysCommand(ctx, cfg, stdout)
	case "restore":
		return restoreCommand(ctx, cfg, stdout)
	case "restore-keys":
		return restoreKeysCommand(cfg, stdout)
	case "keys":
		return keysMain(cfg, stdout)
	case "users":
		return usersCommand(ctx, cfg, logger, stdout)
	case "audit":
		return auditCommand(ctx, cfg, logger, stdout)
	case "policy":
		return policyCommand(ctx, cfg, logger, stdout)
	case "clock":
		return clockCommand(ctx, cfg, stdout)
	default:
		return fmt.Errorf("unknown command %q (commands: serve, projections, backup, backup-keys, restore, restore-keys, keys, users, audit, policy, clock)", command)
	}
}

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
