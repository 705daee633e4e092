package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/privacy"
)

// filesDir is where the data directory keeps claims' files when no S3
// store is configured, and where a backup keeps them.
const filesDir = "files"

// s3Config is the S3 store the configuration names; ok is false when it
// names none (files stay in the data directory).
func (c config) s3Config() (files.S3Config, bool) {
	s3 := files.S3Config{Endpoint: c.FilesS3Endpoint, Bucket: c.FilesS3Bucket, Prefix: c.FilesS3Prefix,
		Region: c.FilesS3Region, AccessKey: c.FilesS3AccessKey, SecretKey: c.FilesS3SecretKey}
	return s3, c.FilesS3Endpoint != "" || c.FilesS3Bucket != ""
}

// fileLimits are the configured limits of uploads.
func (c config) fileLimits() files.Limits {
	return files.Limits{MaxFileBytes: c.FilesMaxBytes, MaxClaimFiles: c.FilesMaxPerClaim, MaxClaimBytes: c.FilesMaxClaimBytes}
}

// checkFiles reports file settings that cannot work.
func (c config) checkFiles() error {
	if s3, ok := c.s3Config(); ok {
		if err := s3.Validate(); err != nil {
			return fmt.Errorf("files-s3: %w (set --files-s3-endpoint, --files-s3-bucket and the keys RMALEDGER_S3_ACCESS_KEY, RMALEDGER_S3_SECRET_KEY)", err)
		}
	}
	// 0 takes the default (files.Limits).
	if c.FilesMaxBytes < 0 || c.FilesMaxPerClaim < 0 || c.FilesMaxClaimBytes < 0 {
		return errors.New("files-max-bytes, files-max-per-claim and files-max-claim-bytes must not be negative")
	}
	if c.FilesMaxBytes > 0 && c.FilesMaxClaimBytes > 0 && c.FilesMaxClaimBytes < c.FilesMaxBytes {
		return fmt.Errorf("files-max-claim-bytes %d is less than files-max-bytes %d: no claim could take a file that large", c.FilesMaxClaimBytes, c.FilesMaxBytes)
	}
	return nil
}

// openBlobs opens the configured file store: the S3 bucket, checked to
// exist, or DATA-DIR/files.
func openBlobs(ctx context.Context, cfg config) (files.BlobStore, error) {
	if s3, ok := cfg.s3Config(); ok {
		store, err := files.NewS3Store(s3)
		if err != nil {
			return nil, err
		}
		if err := store.CheckBucket(ctx); err != nil {
			return nil, err
		}
		return store, nil
	}
	return files.NewDirStore(filepath.Join(cfg.DataDir, filesDir))
}

// newFiles is the files service serve wires into the API and the console:
// claims' files checked, sealed with the customer's key and recorded through
// the ledger.
func newFiles(cfg config, blobs files.BlobStore, service *ledger.Service, codec *privacy.Codec) (*files.Service, error) {
	return files.NewService(files.Config{Claims: service, Blobs: blobs, Privacy: codec, Limits: cfg.fileLimits()})
}

// backupFiles copies DATA-DIR/files into DEST/files after the event log was
// backed up: every file an event in the backup names was stored before its
// event, so the copy holds them all. Files in an S3 bucket are not copied:
// the bucket's own versioning or replication keeps them.
func backupFiles(ctx context.Context, cfg config, dest string, stdout io.Writer) error {
	if _, ok := cfg.s3Config(); ok {
		fmt.Fprintf(stdout, "claims' files are in the S3 bucket %s, not in this backup: keep them with the bucket's versioning or replication\n", cfg.FilesS3Bucket)
		return nil
	}
	from := filepath.Join(cfg.DataDir, filesDir)
	if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stdout, "no claims' files to back up")
		return nil
	}
	dst, err := files.NewDirStore(filepath.Join(dest, filesDir))
	if err != nil {
		return err
	}
	return copyFiles(ctx, from, dst, "backed up", stdout)
}

// restoreFiles puts the files of a backup into the configured file store
// (DATA-DIR/files, or the S3 bucket).
func restoreFiles(ctx context.Context, cfg config, src string, stdout io.Writer) error {
	from := filepath.Join(src, filesDir)
	if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stdout, "the backup holds no claims' files")
		return nil
	}
	dst, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	return copyFiles(ctx, from, dst, "restored", stdout)
}

// copyFiles copies the blobs of the directory from into dst, checking each;
// a damaged one fails the command after the rest were copied.
func copyFiles(ctx context.Context, from string, dst files.BlobStore, did string, stdout io.Writer) error {
	src, err := files.NewDirStore(from)
	if err != nil {
		return err
	}
	copied, damaged, err := src.CopyTo(ctx, dst)
	if err != nil {
		return fmt.Errorf("copying claims' files: %w", err)
	}
	fmt.Fprintf(stdout, "%s %d claims' files\n", did, copied)
	if len(damaged) > 0 {
		return fmt.Errorf("%d files in %s no longer match their SHA-256 and were not copied (%v); run rmaledger audit verify to see whose they are", len(damaged), from, damaged)
	}
	return nil
}
