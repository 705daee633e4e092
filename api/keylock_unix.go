//go:build unix

package api

import (
	"os"
	"syscall"
)

// lockKeyFile takes an exclusive advisory lock on the file at path
// (created if missing) and returns its release. flock, not a lock file
// made with O_EXCL: the kernel drops it when the process dies, so a killed
// command never leaves the keys locked.
func lockKeyFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
