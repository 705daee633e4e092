// Command rmaledger runs the RMA Ledger service and its operator tools.
//
//	rmaledger serve [--dev]   serve the HTTP API
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
	// The subcommand comes first; conf reads the flags after it from os.Args
	// and would stop at a leading word.
	command := ""
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		command = os.Args[1]
		os.Args = append([]string{os.Args[0]}, os.Args[2:]...)
	}
	var cfg config
	cfg.Version = conf.Version{Build: build, Desc: "RMA Ledger: an event-sourced claims ledger for RMA and warranty service"}
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
	logger, err := newLogger(stdout, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	switch command {
	case "serve", "":
		return serve(ctx, cfg, logger, stdout)
	default:
		return fmt.Errorf("unknown command %q (commands: serve)", command)
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
