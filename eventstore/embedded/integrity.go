package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrCorrupt means events.db is damaged (e.g. its tail was cut off by a
// copy or a disk that lost a write) and the store refuses to serve it:
// serving a log with events silently missing is worse than not serving.
var ErrCorrupt = errors.New("embedded: event log is damaged")

// checkFile refuses a database file shorter than its own header says it is.
// It runs at Open, before SQLite, while the store's lock keeps every other
// writer away.
//
// A torn write at the end of the write-ahead log needs no check here:
// SQLite checksums every WAL frame and ignores a transaction whose frames
// are incomplete, and such a transaction was never acknowledged (the WAL is
// fsynced before Append returns). The main file, though, is only ever
// extended by checkpoints and a cut-off main file is not detected by SQLite
// until a query reaches a missing page, perhaps much later and perhaps in
// the middle of serving a read. The header (https://sqlite.org/fileformat.html)
// records the page size and, when valid, the page count: a file shorter than
// that lost its tail.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return fmt.Errorf("embedded: open %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("embedded: stat %s: %w", path, err)
	}
	if info.Size() == 0 {
		return nil // created but never written: SQLite initialises it
	}
	// With frames in the write-ahead log, the main file may be mid-way
	// through a checkpoint (page 1, with the new page count, is written
	// before the pages that extend the file). The log still holds every
	// one of those pages and SQLite completes the checkpoint from it, so
	// the main file alone proves nothing then.
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 {
		return nil
	}
	var header [100]byte
	if _, err := io.ReadFull(f, header[:]); err != nil {
		return fmt.Errorf("%w: %s is %d bytes, shorter than a database header; restore it from a backup (rmaledger restore)", ErrCorrupt, path, info.Size())
	}
	if string(header[:16]) != "SQLite format 3\x00" {
		return fmt.Errorf("%w: %s is not an SQLite database", ErrCorrupt, path)
	}
	pageSize := int64(binary.BigEndian.Uint16(header[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	changeCounter := binary.BigEndian.Uint32(header[24:28])
	pages := int64(binary.BigEndian.Uint32(header[28:32]))
	validFor := binary.BigEndian.Uint32(header[92:96])
	if info.Size()%pageSize != 0 {
		return fmt.Errorf("%w: %s is %d bytes, not a whole number of %d-byte pages: its last write was torn; restore it from a backup (rmaledger restore)",
			ErrCorrupt, path, info.Size(), pageSize)
	}
	if validFor == changeCounter && info.Size() < pages*pageSize {
		return fmt.Errorf("%w: %s is %d bytes but its header counts %d pages of %d bytes: its tail is missing; restore it from a backup (rmaledger restore)",
			ErrCorrupt, path, info.Size(), pages, pageSize)
	}
	return nil
}
