package projections

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/ledger"
)

// The crash test runs this test binary again as a child process that
// writes claims and projects them, and kills it with SIGKILL at chosen
// instants. These variables carry the child's instructions.
const (
	crashDirEnv   = "PROJECTIONS_CRASH_DIR"
	crashAfterEnv = "PROJECTIONS_CRASH_AFTER"
	crashRoundEnv = "PROJECTIONS_CRASH_ROUND"
	crashPhaseEnv = "PROJECTIONS_CRASH_PHASE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		os.Exit(0)
	}
	code := m.Run()
	if rebuildStore.dir != "" {
		os.RemoveAll(rebuildStore.dir)
	}
	os.Exit(code)
}

// crashChild opens the data directory, starts the projections and keeps
// registering claims. At read-model transaction number
// PROJECTIONS_CRASH_AFTER, the handler prints where it is and freezes,
// either just after COMMIT, before the event is acknowledged (between a
// read-model write and the next event), or just before COMMIT, with rows
// and checkpoint written but not committed: the parent kills the process
// right there.
func crashChild(dir string) {
	after, _ := strconv.Atoi(os.Getenv(crashAfterEnv))
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	store, err := embedded.Open(dir, embedded.Config{Logger: quiet})
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	svc, err := ledger.New(store, ledger.Config{})
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	var commits atomic.Int64
	cfg := Config{Dir: dir, Logger: quiet, MetricsInterval: time.Hour, BatchSize: 64, PageSize: 32}
	phase := commitPhase(os.Getenv(crashPhaseEnv))
	cfg.commitHook = func(at commitPhase, name string, c positionCommit) {
		if at == phase && commits.Add(1) == int64(after) {
			fmt.Printf("FROZEN %s %d %d\n", name, c.Commit, c.Events)
			select {} // the parent kills the process here
		}
	}
	r, err := New(store, cfg)
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	if err := r.Start(context.Background()); err != nil {
		fmt.Println("ERROR", err)
		return
	}
	w := &world{store: store, ledger: svc}
	w.t = childT{}
	for i := round * 1000; ; i += 3 {
		w.register(i, 3)
	}
}

// childT lets the fixtures run outside a test: a failure ends the child,
// which the parent notices by the missing FROZEN line.
type childT struct{ testing.TB }

func (childT) Helper()                   {}
func (childT) Fatal(args ...any)         { fmt.Println("ERROR", fmt.Sprint(args...)); os.Exit(1) }
func (childT) Fatalf(f string, a ...any) { fmt.Println("ERROR", fmt.Sprintf(f, a...)); os.Exit(1) }

func TestCrashBetweenWriteAndNextEventConverges(t *testing.T) {
	dir := t.TempDir()
	{
		// A backlog, so that the first child starts with batched catch-up.
		w := &world{t: t, dir: dir}
		w.open()
		w.register(900_000, 40)
		w.store.Close()
	}
	// Each round kills the child at its n-th read-model transaction: the
	// first ones are catch-up batches, later ones single live events; after
	// the commit in some rounds, before it in others.
	type crash struct {
		phase      commitPhase
		projection string
		commit     uint64
	}
	rounds := []struct {
		phase commitPhase
		n     int
	}{
		{afterCommit, 1}, {afterCommit, 2}, {beforeCommit, 1}, {afterCommit, 5}, {beforeCommit, 7},
		{afterCommit, 9}, {beforeCommit, 3}, {afterCommit, 14}, {beforeCommit, 30}, {afterCommit, 40},
		{beforeCommit, 25}, {afterCommit, 60},
	}
	var crashes []crash
	for round, rd := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashAfterEnv+"="+strconv.Itoa(rd.n),
			crashRoundEnv+"="+strconv.Itoa(round+1), crashPhaseEnv+"="+string(rd.phase))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var line string
		select {
		case line = <-lines:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: the child never got there", round)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no Close
			t.Fatal(err)
		}
		cmd.Wait()
		for range lines { // drain
		}
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "FROZEN" {
			t.Fatalf("round %d: child said %q", round, line)
		}
		commit, _ := strconv.ParseUint(f[2], 10, 64)
		crashes = append(crashes, crash{phase: rd.phase, projection: f[1], commit: commit})
		t.Logf("round %d: killed %s %s of %s events up to %d", round, f[1], rd.phase, f[3], commit)

		// What was committed before the kill survived it, and only that.
		w := &world{t: t, dir: dir}
		w.open()
		r := newRunner(t, w.store, testConfig(dir))
		got := checkpoints(t, r)[f[1]].Commit
		r.Close()
		w.store.Close()
		if rd.phase == afterCommit && got != commit {
			t.Fatalf("round %d: killed after committing up to %d, checkpoint is %d", round, commit, got)
		}
		if rd.phase == beforeCommit && got >= commit {
			t.Fatalf("round %d: killed before committing up to %d, checkpoint is %d", round, commit, got)
		}
	}

	w := &world{t: t, dir: dir}
	w.open()
	r := newRunner(t, w.store, testConfig(dir))
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	head := w.head()
	waitFor(t, r, head)
	recovered := snapshot(t, r)

	clean := startRunner(t, w.store, testConfig(t.TempDir()))
	waitFor(t, clean, head)
	sameSnapshots(t, "after crashes vs a clean build", recovered, snapshot(t, clean))
	if n := len(recovered[Claims]); n < 50 {
		t.Fatalf("only %d claims were written; the test did not exercise much", n)
	}
	for _, h := range r.Health() {
		if h.State != StateRunning {
			t.Fatalf("after recovery: %+v", h)
		}
	}
}
