package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/ardanlabs/conf/v3"
)

// config is every setting of the service, from flags and RMALEDGER_*
// environment variables (flags win). Secrets are tagged mask so that the
// configuration can be logged at start.
type config struct {
	conf.Version
	Args conf.Args

	Addr          string `conf:"default:127.0.0.1:8080,help:address the HTTP API listens on"`
	DataDir       string `conf:"default:./data,help:directory of the embedded event store and read models"`
	APIKeys       string `conf:"mask,help:API keys as role:key pairs separated by commas (roles: agent technician finance auditor admin)"`
	EventStoreURL string `conf:"env:EVENTSTORE_URL,flag:eventstore-url,mask,help:KurrentDB connection string (kurrentdb:// or esdb://); empty uses the embedded store"`
	Dev           bool   `conf:"help:development mode: with no API keys configured generate one per role in the data directory and print them"`

	LogLevel        string        `conf:"default:info,help:debug info warn or error"`
	LogFormat       string        `conf:"default:text,help:text or json"`
	MaxBodyBytes    int64         `conf:"default:1048576,help:largest request body accepted"`
	ShutdownTimeout time.Duration `conf:"default:20s,help:how long a shutdown may drain requests"`
	ReadTimeout     time.Duration `conf:"default:15s"`
	WriteTimeout    time.Duration `conf:"default:30s"`
	IdleTimeout     time.Duration `conf:"default:120s"`
}

// Validate reports settings that cannot work, before anything starts.
func (c config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir must not be empty"))
	}
	if c.EventStoreURL != "" {
		u, err := url.Parse(c.EventStoreURL)
		switch {
		case err != nil:
			errs = append(errs, errors.New("eventstore-url is not a URL"))
		case u.Scheme != "kurrentdb" && u.Scheme != "kurrentdb+discover" && u.Scheme != "esdb" && u.Scheme != "esdb+discover":
			errs = append(errs, fmt.Errorf("eventstore-url scheme %q: want kurrentdb://, kurrentdb+discover://, esdb:// or esdb+discover://", u.Scheme))
		}
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("max-body-bytes must be at least 1024"))
	}
	for name, d := range map[string]time.Duration{"shutdown-timeout": c.ShutdownTimeout, "read-timeout": c.ReadTimeout, "write-timeout": c.WriteTimeout, "idle-timeout": c.IdleTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	return errors.Join(errs...)
}
