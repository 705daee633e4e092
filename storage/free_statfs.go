//go:build linux || darwin || freebsd || openbsd

package storage

import "syscall"

// Free returns the bytes of the file system holding path that this
// process may still write (what df calls available: the blocks reserved
// for root are not counted).
func Free(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
