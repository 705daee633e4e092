//go:build linux

package statuspage_test

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pacer wakes the open-loop sender at each due time. time.Sleep wakes from
// the runtime's poller, which on Linux waits in whole milliseconds
// (epoll_wait): at one request a millisecond the sender would be half a
// millisecond late typically and a whole one often, and the benchmark,
// which counts latency from the due time, would charge that to the
// service. A timerfd is a file the same poller watches, readable when the
// kernel's high-resolution timer fires: the sender then wakes within tens
// of microseconds, for two system calls a request.
type pacer struct {
	f    *os.File
	conn interface {
		Control(func(fd uintptr)) error
	}
}

func newPacer(tb testing.TB) *pacer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		tb.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "timerfd") // non-blocking: the poller waits for it
	tb.Cleanup(func() { f.Close() })
	conn, err := f.SyscallConn() // not f.Fd(), which would make reads block a thread
	if err != nil {
		tb.Fatal(err)
	}
	return &pacer{f: f, conn: conn}
}

// sleep waits d.
func (p *pacer) sleep(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	var err error
	if cerr := p.conn.Control(func(fd uintptr) { err = unix.TimerfdSettime(int(fd), 0, &spec, nil) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	var expirations [8]byte
	_, err = p.f.Read(expirations[:])
	return err
}
