package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v5"
)

// child is a server the benchmark started: the real service, or the
// trivial baseline server. Each runs in a process of its own, as in
// production, so the load generator's CPU and memory are not mixed into it.
type child struct {
	name  string
	cmd   *exec.Cmd
	base  string // http://host:port
	debug string // the profiler's http://host:port, when enabled
	log   *os.File
	done  chan error
}

// freeAddr asks the kernel for a free loopback port. The port is released
// before the child binds it; on a machine that is not handing out ports by
// the thousand, nobody takes it in between.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startChild runs bin with args and env, its output to logPath, and waits
// until GET base+readyPath answers 200.
func startChild(ctx context.Context, name, bin string, args, env []string, addr, debugAddr, logPath, readyPath string, timeout time.Duration) (*child, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, base: "http://" + addr, log: log, done: make(chan error, 1)}
	if debugAddr != "" {
		c.debug = "http://" + debugAddr
	}
	go func() { c.done <- cmd.Wait() }()
	client := httpClient(1)
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-c.done:
			c.done <- err
			return nil, fmt.Errorf("%s exited before it was ready (%v); its log: %s\n%s", name, err, logPath, tail(logPath, 20))
		default:
		}
		if _, err := call(ctx, client, http.MethodGet, c.base+readyPath, nil, nil); err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.stop()
			return nil, fmt.Errorf("%s not ready after %s; its log: %s\n%s", name, timeout, logPath, tail(logPath, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM (the service drains and closes its store) and waits;
// after 30s it kills.
func (c *child) stop() error {
	defer c.log.Close()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-c.done:
		c.done <- err
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("%s exited with %v", c.name, err)
		}
		return err
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 30s of SIGTERM; killed", c.name)
	}
}

// Memory is a process's resident set, in MiB.
type Memory struct {
	// RSSMB is the resident set now, PeakMB its high-water mark (VmHWM):
	// the most the process ever held in RAM.
	RSSMB  float64 `json:"rss_mb"`
	PeakMB float64 `json:"peak_mb"`
}

// memory reads /proc/PID/status.
func (c *child) memory() (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	s := bufio.NewScanner(f)
	for s.Scan() {
		field, value, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			continue
		}
		switch field {
		case "VmRSS":
			m.RSSMB = round3(kb / 1024)
		case "VmHWM":
			m.PeakMB = round3(kb / 1024)
		}
	}
	return m, s.Err()
}

// cpuSeconds is the CPU time the child has used so far (utime + stime from
// /proc/PID/stat, in clock ticks of 1/100 s on Linux).
func (c *child) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// cpuProfile asks the child's profiler for a CPU profile of the next d and
// writes it to path; it returns at once and reports through the channel.
func (c *child) cpuProfile(ctx context.Context, d time.Duration, path string) <-chan error {
	out := make(chan error, 1)
	if c.debug == "" {
		out <- errors.New("the service was started without --debug-addr")
		return out
	}
	go func() {
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", c.debug, max(1, int(d.Seconds())))
		client := &http.Client{Timeout: d + 30*time.Second}
		b, err := call(ctx, client, http.MethodGet, url, nil, nil)
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		out <- err
	}()
	return out
}

// heapProfile saves the child's heap profile (what is live now).
func (c *child) heapProfile(ctx context.Context, path string) error {
	if c.debug == "" {
		return nil
	}
	b, err := call(ctx, httpClient(1), http.MethodGet, c.debug+"/debug/pprof/heap", nil, nil)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// buildService compiles the service as `make build` does (static, trimmed)
// into dir, from the module the benchmark runs in.
func buildService(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rmaledger")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/rmaledger")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/rmaledger: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of the go.mod of the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run ledgerbench inside the rmaledger module (or pass --service-bin)")
	}
	return filepath.Dir(mod), nil
}

// serveTrivial is the baseline server (`ledgerbench trivial-server ADDR`):
// the service's HTTP stack (net/http and echo v5, the same server
// timeouts) with one handler that answers a fixed JSON object. No
// middleware: whatever the service adds on top (request ids, metrics,
// request logs, authentication, the work itself) is what the comparison
// shows.
func serveTrivial(ctx context.Context, addr string, stdout io.Writer) error {
	e := echo.New()
	body := map[string]string{"status": "ok"}
	e.GET("/healthz", func(c *echo.Context) error { return c.JSON(http.StatusOK, body) })
	e.GET("/v1/ping", func(c *echo.Context) error { return c.JSON(http.StatusOK, body) })
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintln(stdout, "trivial server on", l.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// No graceful drain: nothing is in flight between stages, and the
	// load's spare connections would hold Shutdown for seconds.
	return srv.Close()
}
