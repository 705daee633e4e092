package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// The disk's own limit, measured in the same run as the store: a file that
// records are appended to and fdatasync'ed, with no database in between.
// The embedded store commits a batch of appends with one sync (SQLite's WAL
// with synchronous=FULL), so these are the ceilings its append figures are
// compared with: one writer cannot beat one sync per record, and 64
// writers cannot beat what one sync per batch allows.

// FsyncBaseline is the raw fdatasync rate of the data directory's disk.
type FsyncBaseline struct {
	// Single: one writer, one record per sync; OpsPerSecond is syncs/s.
	Single FsyncRun `json:"single"`
	// Group: 64 writers hand records to one committer that writes and
	// syncs whatever is waiting in one batch (group commit).
	Group FsyncRun `json:"group"`
}

// FsyncRun is one fdatasync measurement.
type FsyncRun struct {
	Writers         int     `json:"writers"`
	RecordsPerSec   float64 `json:"records_per_s"`
	SyncsPerSec     float64 `json:"syncs_per_s"`
	RecordsPerSync  float64 `json:"records_per_sync"`
	RecordBytes     int     `json:"record_bytes"`
	DurationSeconds float64 `json:"duration_s"`
	// Latency is from handing a record over to its sync returning.
	Latency Latency `json:"latency"`
}

// recordBytes is about one stored claim event (data, metadata, index).
const recordBytes = 1024

// measureFsync runs the single writer, then the group committer, each for d.
func measureFsync(ctx context.Context, dir string, d time.Duration, writers int) (FsyncBaseline, error) {
	single, err := fsyncGroup(ctx, filepath.Join(dir, "fsync-single.dat"), d, 1)
	if err != nil {
		return FsyncBaseline{}, err
	}
	group, err := fsyncGroup(ctx, filepath.Join(dir, "fsync-group.dat"), d, writers)
	if err != nil {
		return FsyncBaseline{}, err
	}
	return FsyncBaseline{Single: single, Group: group}, nil
}

// fsyncGroup appends records from the given number of writers for d: a
// committer takes every record waiting (at most 512, the store's batch
// bound), writes them with one write and one fdatasync, and releases their
// writers. With one writer that is one sync per record.
func fsyncGroup(ctx context.Context, path string, d time.Duration, writers int) (FsyncRun, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return FsyncRun{}, err
	}
	defer os.Remove(path)
	defer f.Close()

	type request struct {
		done chan error
	}
	queue := make(chan request, writers)
	record := make([]byte, recordBytes)
	for i := range record {
		record[i] = byte('a' + i%26)
	}
	var syncs, records int
	committed := make(chan error, 1)
	go func() {
		buf := make([]byte, 0, 512*recordBytes)
		batch := make([]request, 0, 512)
		for first := range queue {
			batch = append(batch[:0], first)
		collect:
			for len(batch) < 512 {
				select {
				case r, ok := <-queue:
					if !ok {
						break collect
					}
					batch = append(batch, r)
				default:
					break collect
				}
			}
			buf = buf[:0]
			for range batch {
				buf = append(buf, record...)
			}
			_, err := f.Write(buf)
			if err == nil {
				err = syscall.Fdatasync(int(f.Fd()))
			}
			syncs++
			records += len(batch)
			for _, r := range batch {
				r.done <- err
			}
		}
		committed <- nil
	}()

	var (
		lat   latencies
		wg    sync.WaitGroup
		errMu sync.Mutex
		fail  error
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range writers {
		wg.Go(func() {
			done := make(chan error, 1)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				queue <- request{done: done}
				if err := <-done; err != nil {
					errMu.Lock()
					fail = err
					errMu.Unlock()
					return
				}
				lat.add(time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(queue)
	<-committed
	if fail != nil {
		return FsyncRun{}, fmt.Errorf("fdatasync baseline: %w", fail)
	}
	return FsyncRun{
		Writers:         writers,
		RecordsPerSec:   round3(float64(records) / elapsed.Seconds()),
		SyncsPerSec:     round3(float64(syncs) / elapsed.Seconds()),
		RecordsPerSync:  round3(float64(records) / float64(max(syncs, 1))),
		RecordBytes:     recordBytes,
		DurationSeconds: round3(elapsed.Seconds()),
		Latency:         lat.summary(),
	}, ctx.Err()
}
