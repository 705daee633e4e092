// Package clock gives the service its notion of "now": the decision time of
// the ledger, the instant the SLA timer process judges clocks at, and the
// instant the API judges timers and ages amounts at.
//
// In production it is the real clock. A sandbox (a data directory made for
// trying policies out, never the production one) has a test clock instead:
// it stands still until an administrator moves it forward, and its instant
// is kept in the data directory so that a restart resumes where it stood.
// Everything that runs on the clock acts at the new instant exactly as it
// would have in real time, and every event records that instant.
package clock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Clock says what time it is.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Files of a sandbox data directory.
const (
	// MarkerFile marks a data directory as a sandbox. It is written when a
	// sandbox creates the directory and never removed: a sandbox service
	// refuses a directory without it, and a normal service one with it, so
	// production data can never be given simulated time.
	MarkerFile = "SANDBOX"
	// StateFile holds the test clock's instant (RFC 3339, one line).
	StateFile = "sandbox-clock"
)

// Errors of the sandbox, matched with errors.Is.
var (
	// ErrNotSandbox means a sandbox was asked to run on a data directory
	// that was not made as one.
	ErrNotSandbox = errors.New("not a sandbox data directory")
	// ErrIsSandbox means a normal service was asked to run on a sandbox
	// data directory.
	ErrIsSandbox = errors.New("sandbox data directory")
	// ErrBackwards means the test clock was asked to move back: time in the
	// ledger only moves forward.
	ErrBackwards = errors.New("the test clock only moves forward")
)

// IsSandbox reports whether dir carries the sandbox marker.
func IsSandbox(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, MarkerFile))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, err
}

// CheckProduction refuses a sandbox data directory to a normal service.
func CheckProduction(dir string) error {
	sandbox, err := IsSandbox(dir)
	if err != nil {
		return err
	}
	if sandbox {
		return fmt.Errorf("%w: %s holds %s, so its events carry simulated time; serve it with --sandbox, or give the service its own data directory", ErrIsSandbox, dir, MarkerFile)
	}
	return nil
}

// Sandbox is a test clock: it stands at one instant until moved forward.
// It is safe for concurrent use.
type Sandbox struct {
	mu  sync.Mutex
	dir string
	at  time.Time
}

// OpenSandbox opens the test clock of the sandbox data directory dir. A
// directory that does not exist yet, or is empty, becomes a sandbox: the
// marker is written first, and the clock starts at start (truncated to the
// second). A directory that holds anything but lacks the marker is refused
// (ErrNotSandbox): it may be production data.
func OpenSandbox(dir string, start time.Time) (*Sandbox, error) {
	sandbox, err := IsSandbox(dir)
	if err != nil {
		return nil, err
	}
	if !sandbox {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("%w: %s holds data but no %s; a sandbox starts in a new or empty data directory, never on one a normal service wrote", ErrNotSandbox, dir, MarkerFile)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		marker := "This data directory is an RMA Ledger sandbox: its events carry the simulated time of a test clock.\n" +
			"A service started without --sandbox refuses it.\n"
		if err := writeFile(dir, MarkerFile, []byte(marker)); err != nil {
			return nil, err
		}
	}
	s := &Sandbox{dir: dir}
	s.at, err = SandboxTime(dir)
	if errors.Is(err, os.ErrNotExist) {
		s.at = start.UTC().Truncate(time.Second)
		err = s.persist(s.at)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SandboxTime reads the instant a sandbox's test clock stands at, writing
// nothing (os.ErrNotExist when the clock never started).
func SandboxTime(dir string) (time.Time, error) {
	path := filepath.Join(dir, StateFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(raw)))
	if err != nil {
		return time.Time{}, fmt.Errorf("sandbox clock %s: %w", path, err)
	}
	return t, nil
}

// Now returns the clock's instant, in UTC.
func (s *Sandbox) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at
}

// Advance moves the clock forward by d (which must be positive) and
// returns the new instant. The instant is durable before it is used.
func (s *Sandbox) Advance(d time.Duration) (time.Time, error) {
	if d <= 0 {
		return time.Time{}, fmt.Errorf("clock: advance by %s: the step must be positive", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.moveTo(s.at.Add(d))
}

// Set moves the clock to t, which must not be before its instant, and
// returns the new instant.
func (s *Sandbox) Set(t time.Time) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Before(s.at) {
		return time.Time{}, fmt.Errorf("%w: it is %s, %s is earlier", ErrBackwards, s.at.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	return s.moveTo(t)
}

// moveTo persists, then takes, the instant t. The caller holds mu.
func (s *Sandbox) moveTo(t time.Time) (time.Time, error) {
	t = t.UTC()
	if err := s.persist(t); err != nil {
		return time.Time{}, err
	}
	s.at = t
	return t, nil
}

func (s *Sandbox) persist(t time.Time) error {
	return writeFile(s.dir, StateFile, []byte(t.UTC().Format(time.RFC3339Nano)+"\n"))
}

// writeFile replaces dir/name atomically and durably: a crash leaves the
// old content or the new, never a torn file.
func writeFile(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
