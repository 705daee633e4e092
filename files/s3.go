package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3-compatible object store keeps the blobs.
type S3Config struct {
	// Endpoint is the store's URL: https://s3.eu-central-1.amazonaws.com,
	// http://minio:9000. The scheme decides TLS.
	Endpoint string
	// Bucket holds the blobs; it must exist.
	Bucket string
	// Prefix is put before every key ("rmaledger/files/"), so that one
	// bucket can serve other things too; empty for none.
	Prefix string
	// Region is the bucket's region; empty lets the client ask the store.
	Region string
	// AccessKey and SecretKey sign the requests (AWS signature v4).
	AccessKey, SecretKey string
}

// Validate reports a configuration that cannot work.
func (c S3Config) Validate() error {
	u, err := url.Parse(c.Endpoint)
	switch {
	case c.Endpoint == "":
		return errors.New("files: the S3 endpoint is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("files: the S3 endpoint %q must be an http:// or https:// URL", c.Endpoint)
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("files: the S3 endpoint %q must not have a path; put the key prefix in Prefix", c.Endpoint)
	case c.Bucket == "":
		return errors.New("files: the S3 bucket is required")
	case c.AccessKey == "" || c.SecretKey == "":
		return errors.New("files: the S3 access key and secret key are required")
	}
	return nil
}

// S3Store keeps blobs as objects of an S3-compatible store (AWS S3, MinIO,
// Ceph, Garage...), through the MinIO client. An object is durable once
// the store acknowledged the PUT; its Content-MD5 makes the store refuse
// bytes damaged on the way.
type S3Store struct {
	client *minio.Client
	cfg    S3Config
}

// NewS3Store returns a store over the bucket cfg names. It does not
// connect: CheckBucket does, for a start-up check.
func NewS3Store(cfg S3Config) (*S3Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.Endpoint)
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("files: S3 client: %w", err)
	}
	return &S3Store{client: client, cfg: cfg}, nil
}

// CheckBucket makes sure the bucket exists and the keys may see it.
func (s *S3Store) CheckBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("files: S3 bucket %s at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, err)
	}
	if !ok {
		return fmt.Errorf("files: S3 bucket %s does not exist at %s", s.cfg.Bucket, s.cfg.Endpoint)
	}
	return nil
}

// key is the object key of address, fanned out as on disk.
func (s *S3Store) key(address string) string {
	return s.cfg.Prefix + address[:2] + "/" + address[2:4] + "/" + address
}

// Put uploads the blob unless an object of its size is already there: the
// key is the content's hash, so an object under it holds the same bytes
// unless someone damaged it, which audit verify reports.
func (s *S3Store) Put(ctx context.Context, data []byte) (string, error) {
	address := Address(data)
	if size, err := s.Stat(ctx, address); err == nil && size == int64(len(data)) {
		return address, nil
	}
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, s.key(address), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: true})
	if err != nil {
		return "", fmt.Errorf("files: S3 put %s: %w", address, err)
	}
	return address, nil
}

// Get opens the object. The client fetches lazily, so the object is
// looked at first to tell a missing blob from a failing store.
func (s *S3Store) Get(ctx context.Context, address string) (io.ReadCloser, error) {
	if !ValidAddress(address) {
		return nil, errBadAddress
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, s.key(address), minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat()
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		return nil, s.fault("get", address, err)
	}
	return obj, nil
}

// Stat asks the store for the object's size.
func (s *S3Store) Stat(ctx context.Context, address string) (int64, error) {
	if !ValidAddress(address) {
		return 0, errBadAddress
	}
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, s.key(address), minio.StatObjectOptions{})
	if err != nil {
		return 0, s.fault("stat", address, err)
	}
	return info.Size, nil
}

func (s *S3Store) fault(op, address string, err error) error {
	code := minio.ToErrorResponse(err).Code
	if code == minio.NoSuchKey || code == "NotFound" {
		return fmt.Errorf("%w: %s", ErrBlobNotFound, address)
	}
	return fmt.Errorf("files: S3 %s %s: %w", op, address, err)
}

// String names the store for logs, without the keys.
func (s *S3Store) String() string {
	return "s3 " + strings.TrimSuffix(s.cfg.Endpoint, "/") + "/" + s.cfg.Bucket + "/" + s.cfg.Prefix
}
