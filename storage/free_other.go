//go:build !(linux || darwin || freebsd || openbsd)

package storage

import "errors"

// Free is not available on this system: callers treat the free space as
// unknown.
func Free(path string) (uint64, error) {
	return 0, errors.ErrUnsupported
}
