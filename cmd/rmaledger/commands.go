package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// subcommand is one command of rmaledger: what `rmaledger help` says of
// it, its usage text, and its options.
type subcommand struct {
	name    string
	summary string   // one line in rmaledger help
	usage   []string // its forms, each after "rmaledger "
	about   string   // what it does and when to use it
	example []string // command lines as an operator types them
	exits   string   // what exit code 1 means beyond a failure, if anything
	// declare declares the command's options into o, over cfg (which holds
	// serve's defaults), and returns what runs it once they are parsed.
	declare func(o *options, cfg *config) runner
}

// runner runs a parsed, validated command.
type runner func(ctx context.Context, cfg config, stdout io.Writer) error

// subcommands are rmaledger's subcommands, in the order help lists them.
var subcommands = []subcommand{
	{
		name:    "serve",
		summary: "serve the HTTP API, the staff console, the customer portal and the status page (the default command)",
		usage:   []string{"serve [--dev] [--sandbox] [FLAGS]"},
		about:   "Runs the service until SIGINT or SIGTERM, then drains the requests in flight. Every setting is a flag and an RMALEDGER_* variable; a flag wins.",
		example: []string{"rmaledger serve --dev --data-dir ./data", "RMALEDGER_API_KEYS=admin:a-key-of-16-chars-or-more rmaledger serve --addr 0.0.0.0:8080"},
		declare: func(o *options, cfg *config) runner {
			serveOptions(o, cfg)
			return func(ctx context.Context, cfg config, stdout io.Writer) error {
				logger, err := newLogger(stdout, cfg.LogLevel, cfg.LogFormat)
				if err != nil {
					return err
				}
				return serve(ctx, cfg, o.shown(), logger, stdout)
			}
		},
	},
	{
		name:    "projections",
		summary: "each read model's checkpoint and lag, or rebuild read models from the log (service stopped)",
		usage:   []string{"projections status", "projections rebuild [" + readModelNames + "]"},
		about:   "Works on the data directory while the service is stopped (the embedded store admits one process); a running service rebuilds through POST /v1/admin/projections/{name}/rebuild.",
		example: []string{"rmaledger projections status --data-dir ./data", "rmaledger projections rebuild claims --data-dir ./data"},
		declare: func(o *options, cfg *config) runner {
			storeOptions(o, cfg)
			loggingOptions(o, cfg)
			policyFileOption(o, cfg)
			keyStoreOption(o, cfg)
			return withToolLogger(projectionsCommand)
		},
	},
	{
		name:    "backup",
		summary: "a consistent copy of the event log and the claims' files (no keys), while serving",
		usage:   []string{"backup DIR"},
		about:   "Copies the embedded event log and DATA-DIR/files into DIR, a new or empty directory. The personal-data keys stay out: back them up apart with rmaledger backup-keys.",
		example: []string{"rmaledger backup /backups/2026-11-22 --data-dir /var/lib/rmaledger"},
		declare: func(o *options, cfg *config) runner {
			storeOptions(o, cfg)
			filesStoreOptions(o, cfg)
			return backupCommand
		},
	},
	{
		name:    "backup-keys",
		summary: "a copy of the personal-data key store, into a directory of its own",
		usage:   []string{"backup-keys DIR"},
		about:   "Copies the key store into DIR, a new or empty directory apart from the event log's backups; keep it short-lived: it opens the data of customers erased after it was taken.",
		example: []string{"rmaledger backup-keys /key-backups/2026-11-22 --data-dir /var/lib/rmaledger"},
		declare: func(o *options, cfg *config) runner {
			dataDirOption(o, cfg)
			keyStoreOption(o, cfg)
			return func(ctx context.Context, cfg config, stdout io.Writer) error {
				return backupKeysCommand(ctx, cfg, stdout)
			}
		},
	},
	{
		name:    "restore",
		summary: "a backup of the log and the files into an empty --data-dir",
		usage:   []string{"restore DIR"},
		about:   "Restores a backup made by rmaledger backup into an empty data directory; the read models are rebuilt when the service starts. It restores no personal-data keys: rmaledger restore-keys does.",
		example: []string{"rmaledger restore /backups/2026-11-22 --data-dir ./data-restored"},
		declare: func(o *options, cfg *config) runner {
			storeOptions(o, cfg)
			keyStoreOption(o, cfg)
			filesStoreOptions(o, cfg)
			return restoreCommand
		},
	},
	{
		name:    "restore-keys",
		summary: "a key backup into place, before the service starts",
		usage:   []string{"restore-keys DIR"},
		about:   "Puts the key store backed up in DIR (by rmaledger backup-keys) where the service keeps it, never over an existing one.",
		example: []string{"rmaledger restore-keys /key-backups/2026-11-22 --data-dir ./data-restored"},
		declare: func(o *options, cfg *config) runner {
			dataDirOption(o, cfg)
			keyStoreOption(o, cfg)
			return func(_ context.Context, cfg config, stdout io.Writer) error { return restoreKeysCommand(cfg, stdout) }
		},
	},
	{
		name:    "keys",
		summary: "API keys (add, list, revoke) and the audit signing key (generate)",
		usage: []string{"keys add --role ROLE [--org ORGANISATION] [--name NAME] [--expires 720h]", "keys list", "keys revoke NAME",
			"keys generate [FILE]"},
		about: "add prints a new API key once and keeps only its hash in the keys file, which a running service follows; list shows names, roles and times, never keys; revoke refuses a key from the service's next request on. generate makes the Ed25519 key pair that signs audit checkpoints (FILE defaults to --signing-key-file, else DATA-DIR/signing-key.pem).",
		example: []string{"rmaledger keys add --role technician --name desk-sofia-1 --expires 2160h", "rmaledger keys revoke desk-sofia-1",
			"rmaledger keys generate /etc/rmaledger/signing-key.pem"},
		declare: func(o *options, cfg *config) runner {
			dataDirOption(o, cfg)
			apiKeyOptions(o, cfg)
			signingKeyOption(o, cfg)
			var k newAccount
			newAccountOptions(o, &k, "key", "default: its role and fingerprint")
			o.Duration(&k.Expires, "expires", 0, "add: how long the new key works, e.g. 720h (default: until revoked)").Env("KEYS_EXPIRES")
			return func(_ context.Context, cfg config, stdout io.Writer) error { return keysMain(cfg, k, stdout) }
		},
	},
	{
		name:    "users",
		summary: "the people who sign in to the console: add, list, disable, enable, reset-password",
		usage: []string{"users add --name NAME --role ROLE [--org ORGANISATION]", "users list", "users disable NAME", "users enable NAME",
			"users reset-password NAME"},
		about: "A password is read from standard input, or generated and printed once. A disable or a reset ends the person's sessions. On the embedded store stop the service first; with KurrentDB (--eventstore-url) the commands work while it runs.",
		example: []string{"echo 'a long password for Maria' | rmaledger users add --name maria.petrova --role technician",
			"rmaledger users reset-password ivan.ivanov --data-dir ./data"},
		declare: func(o *options, cfg *config) runner {
			storeOptions(o, cfg)
			loggingOptions(o, cfg)
			var a newAccount
			newAccountOptions(o, &a, "account", "required")
			return withToolLogger(func(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
				return usersCommand(ctx, cfg, a, logger, stdout)
			})
		},
	},
	{
		name:    "audit",
		summary: "recompute the hash chains, export them for an auditor, check an export or a printed document",
		usage: []string{"audit verify [--claim ID] [--from POS] [--public-key K]", "audit export [--from POS] [--to POS] [--claim ID] > FILE",
			"audit check FILE --public-key K", "audit check-document FILE.pdf"},
		about: "verify recomputes every chain and checks the claims' files and the signed checkpoints; export writes JSON Lines an auditor checks offline with audit check; check-document says which issued document a PDF is. verify, export and check-document read the data directory with the service stopped (a running service answers GET /v1/audit/verify and /v1/audit/export).",
		example: []string{"rmaledger audit verify --data-dir ./data", "rmaledger audit export --claim 0b6f9c1e-8d7a-4c1b-9a57-2f1c3e5d7a90 > claim.jsonl",
			"rmaledger audit check claim.jsonl --public-key signing-key.pem.pub"},
		exits: "1 also when verify or check finds the chain broken (BROKEN and the break are printed) and when check-document's file matches no issued document",
		declare: func(o *options, cfg *config) runner {
			storeOptions(o, cfg)
			loggingOptions(o, cfg)
			signingKeyOption(o, cfg)
			publicKeyOption(o, cfg)
			keyStoreOption(o, cfg)
			policyFileOption(o, cfg)
			filesStoreOptions(o, cfg)
			documentsOptions(o, cfg)
			var a auditOptions
			o.String(&a.Claim, "claim", "", "verify, export: one claim (its id)").Env("AUDIT_CLAIM")
			o.String(&a.From, "from", "", "verify, export: the position to start at").Env("AUDIT_FROM")
			o.String(&a.To, "to", "", "export: the last position to export in full").Env("AUDIT_TO")
			return withToolLogger(func(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
				return auditCommand(ctx, cfg, a, logger, stdout)
			})
		},
	},
	{
		name:    "policy",
		summary: "the recorded claims replayed under a candidate policy; writes nothing",
		usage:   []string{"policy whatif --policy NEW.yaml [--since YYYY-MM-DD] [--json]"},
		about:   "Replays every recorded claim under the candidate policy and reports what would differ, against the policy in force (--policy-file). It reads the whole log: stop the service first.",
		example: []string{"rmaledger policy whatif --policy candidate.yaml --since 2026-01-01 --data-dir ./data"},
		declare: func(o *options, cfg *config) runner {
			storeOptions(o, cfg)
			loggingOptions(o, cfg)
			policyFileOption(o, cfg)
			var w whatifOptions
			o.String(&w.Policy, "policy", "", "whatif: the candidate policy file to replay the recorded claims under").Env("WHATIF_POLICY")
			o.String(&w.Since, "since", "", "whatif: only claims registered on or after this day (YYYY-MM-DD in the policy's time zone) or RFC 3339 instant").Env("WHATIF_SINCE")
			o.Bool(&w.JSON, "json", false, "whatif: the report as JSON instead of a table").Env("WHATIF_JSON")
			return withToolLogger(func(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
				return policyCommand(ctx, cfg, w, logger, stdout)
			})
		},
	},
	{
		name:    "clock",
		summary: "show or move a sandbox service's test clock (serve --sandbox)",
		usage:   []string{"clock show", "clock advance STEP", "clock set INSTANT"},
		about:   "Talks to the sandbox service at --addr with an admin key: STEP is a duration such as 26h or 45d, INSTANT an RFC 3339 time. The service moves its test clock and runs the SLA timer process at the new instant.",
		example: []string{"rmaledger clock advance 26h --data-dir sandbox", "rmaledger clock set 2030-06-03T10:00:00+03:00 --addr 127.0.0.1:8080 --admin-key KEY"},
		declare: func(o *options, cfg *config) runner {
			addrOption(o, cfg)
			dataDirOption(o, cfg)
			var adminKey string
			o.String(&adminKey, "admin-key", "", "an admin API key of the sandbox service (default: the admin key --dev generated in the data directory)").Env("ADMIN_KEY").Secret()
			return func(ctx context.Context, cfg config, stdout io.Writer) error {
				return clockCommand(ctx, cfg, adminKey, stdout)
			}
		},
	},
}

// newAccount is what keys add and users add make: a key or an account.
type newAccount struct {
	Role, Org, Name string
	Expires         time.Duration // keys only
}

// newAccountOptions declare the role, organisation and name of a new key
// or account (what); unnamed is what the name is when none is given.
func newAccountOptions(o *options, a *newAccount, what, unnamed string) {
	o.String(&a.Role, "role", "", "add: the new "+what+"'s role (agent technician finance auditor admin partner)").Env("KEYS_ROLE")
	o.String(&a.Org, "org", "", "add: the partner organisation a partner's "+what+" belongs to (required for role partner)").Env("KEYS_ORG")
	o.String(&a.Name, "name", "", "add: the new "+what+"'s name, the actor on its events ("+unnamed+")").Env("KEYS_NAME")
}

// withToolLogger runs a command that logs, to standard error so that its
// own output stays clean for pipes.
func withToolLogger(f func(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error) runner {
	return func(ctx context.Context, cfg config, stdout io.Writer) error {
		logger, err := newLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
		if err != nil {
			return err
		}
		return f(ctx, cfg, logger, stdout)
	}
}

// findCommand is the command of that name.
func findCommand(name string) (subcommand, bool) {
	for _, c := range subcommands {
		if c.name == name {
			return c, true
		}
	}
	return subcommand{}, false
}

// commandNames are the commands' names, for errors.
func commandNames() string {
	names := make([]string, len(subcommands))
	for i, c := range subcommands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// parseCommand declares the command's options and reads its variables and
// arguments; it returns the settings and what runs the command.
func parseCommand(c subcommand, args []string) (config, runner, error) {
	cfg := defaultConfig()
	o := newOptions(c.name)
	run := c.declare(o, &cfg)
	got, err := o.parse(args)
	cfg.Args = got
	return cfg, run, err
}

// writeUsage is the command's usage text: its forms, what it does, an
// example, its options and its exit codes.
func (c subcommand) writeUsage(w io.Writer) {
	for i, u := range c.usage {
		lead := "Usage: "
		if i > 0 {
			lead = "       "
		}
		fmt.Fprintf(w, "%srmaledger %s\n", lead, u)
	}
	fmt.Fprintf(w, "\n%s\n\nExamples:\n", wrap(c.about, "", 100))
	for _, e := range c.example {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintf(w, "\nOptions (flags, or the RMALEDGER_* variables named; a flag wins):\n")
	o := newOptions(c.name)
	cfg := defaultConfig()
	c.declare(o, &cfg)
	o.writeFlags(w)
	fmt.Fprintln(w, "  --help\n      this text")
	exits := fmt.Sprintf("Exit codes: %d done; %d failed (the error is printed)", exitOK, exitFailure)
	if c.exits != "" {
		exits += "; " + c.exits
	}
	exits += fmt.Sprintf("; %d the command line is wrong (an unknown flag or word, a missing one, a value of the wrong kind).", exitUsage)
	fmt.Fprintf(w, "\n%s\n", wrap(exits, "", 100))
}

// writeHelp is rmaledger help: the commands and how to learn more.
func writeHelp(w io.Writer) {
	fmt.Fprintf(w, "RMA Ledger %s: an event-sourced claims ledger for RMA and warranty service.\n\n", build)
	fmt.Fprintf(w, "Usage: rmaledger COMMAND [WORDS] [FLAGS]   (no command: serve)\n\nCommands:\n")
	for _, c := range subcommands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-13s %s\n", "help", "this list; help COMMAND: the command's usage, options and an example")
	fmt.Fprintf(w, "\nrmaledger COMMAND --help shows a command's own options. rmaledger --version prints the version.\n")
	fmt.Fprintf(w, "Exit codes: %d done; %d failed (audit: also a broken chain); %d the command line is wrong.\n", exitOK, exitFailure, exitUsage)
}

// run runs `rmaledger ARGS...`; it is the only place that knows every
// command.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	} else if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			name, args = "help", args[1:]
		case "-v", "-version", "--version":
			fmt.Fprintf(stdout, "rmaledger %s\n", build)
			return errHelpShown
		}
	}
	if name == "help" {
		if len(args) == 0 {
			writeHelp(stdout)
			return errHelpShown
		}
		c, ok := findCommand(args[0])
		if !ok {
			return usagef("help: unknown command %q (commands: %s)", args[0], commandNames())
		}
		c.writeUsage(stdout)
		return errHelpShown
	}
	c, ok := findCommand(name)
	if !ok {
		return usagef("unknown command %q (commands: %s; rmaledger help lists them)", name, commandNames())
	}
	cfg, runCommand, err := parseCommand(c, args)
	if errors.Is(err, flag.ErrHelp) {
		c.writeUsage(stdout)
		return errHelpShown
	}
	if err != nil {
		var usage usageError
		if errors.As(err, &usage) {
			return usagef("%s: %v (rmaledger %s --help shows its usage)", c.name, err, c.name)
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
	return runCommand(ctx, cfg, stdout)
}
