// Package storage names the one failure that every store of the service's
// own files shares: the storage under it cannot take a write (or serve a
// read) now. A full disk, an exceeded quota, an I/O error or a file system
// gone read-only are not the request's fault and not a bug: the request is
// refused with nothing written, and the same request succeeds once the
// fault is gone, without a restart.
//
// Every store that writes files (the embedded event log, the personal-data
// key store, the read models) passes its errors through Fault, so that one
// errors.Is(err, ErrUnavailable) recognises them wherever they surface: the
// API answers 503 with Retry-After, and readiness reports not ready while
// the disk is full.
package storage

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrUnavailable means a store's storage failed the operation; nothing of
// it was kept, and it may be retried once the fault is gone.
var ErrUnavailable = errors.New("storage unavailable")

// ErrNoSpace means the storage is full: a write needed space (or quota)
// the file system did not have. It matches ErrUnavailable as well.
var ErrNoSpace = fmt.Errorf("%w: no space left", ErrUnavailable)

// Fault returns err marked with ErrNoSpace or ErrUnavailable when it is a
// fault of the storage (SQLite's SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN
// or SQLITE_READONLY; ENOSPC, EDQUOT, EIO or EROFS from the file system),
// and err unchanged otherwise (nil included). The cause stays in the chain
// for errors.Is and errors.As, and in the message for the log.
func Fault(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	switch classify(err) {
	case full:
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	case failing:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

type kind int

const (
	other kind = iota
	full
	failing
)

func classify(err error) kind {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_FULL:
			return full
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return failing
		}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOSPC, syscall.EDQUOT:
			return full
		case syscall.EIO, syscall.EROFS:
			return failing
		}
	}
	return other
}
