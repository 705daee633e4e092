package files_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/files/blobtest"
)

func TestDirStoreContract(t *testing.T) {
	blobtest.Run(t, blobtest.Store{
		Open: func(t *testing.T) files.BlobStore {
			s, err := files.NewDirStore(filepath.Join(t.TempDir(), "files"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Reopen: func(t *testing.T, s files.BlobStore) files.BlobStore {
			again, err := files.NewDirStore(s.(*files.DirStore).Dir())
			if err != nil {
				t.Fatal(err)
			}
			return again
		},
	})
}

func TestS3StoreContract(t *testing.T) {
	blobtest.Run(t, blobtest.Store{
		Open: func(t *testing.T) files.BlobStore { return newS3(t, fakeS3(t), "rmaledger/") },
		Reopen: func(t *testing.T, s files.BlobStore) files.BlobStore {
			return newS3(t, s.(*testS3).endpoint, "rmaledger/")
		},
	})
}

// testS3 is an S3Store that remembers the endpoint of its fake server.
type testS3 struct {
	*files.S3Store
	endpoint string
}

// fakeS3 serves a real S3 protocol server (gofakes3, in memory) with one
// bucket, "claims", and returns its URL.
func fakeS3(t *testing.T) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("claims"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

func newS3(t *testing.T, endpoint, prefix string) *testS3 {
	t.Helper()
	s, err := files.NewS3Store(files.S3Config{Endpoint: endpoint, Bucket: "claims", Prefix: prefix, Region: "us-east-1", AccessKey: "test", SecretKey: "test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &testS3{S3Store: s, endpoint: endpoint}
}

// TestDirStoreRewritesADamagedBlob: a put of bytes whose stored copy was
// damaged writes them again, rather than trusting the file's name.
func TestDirStoreRewritesADamagedBlob(t *testing.T) {
	dir := t.TempDir()
	s, err := files.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("%PDF-1.7 an invoice")
	address, err := s.Put(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, address[:2], address[2:4], address)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("damaged"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(data) {
		t.Fatalf("after the second put the file holds %q", got)
	}
}

func TestS3ConfigValidate(t *testing.T) {
	good := files.S3Config{Endpoint: "https://s3.example.net", Bucket: "b", AccessKey: "a", SecretKey: "s"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mutate := range map[string]func(*files.S3Config){
		"no endpoint": func(c *files.S3Config) { c.Endpoint = "" },
		"not a URL":   func(c *files.S3Config) { c.Endpoint = "s3.example.net" },
		"ftp":         func(c *files.S3Config) { c.Endpoint = "ftp://s3.example.net" },
		"a path":      func(c *files.S3Config) { c.Endpoint = "https://s3.example.net/bucket" },
		"no bucket":   func(c *files.S3Config) { c.Bucket = "" },
		"no secret":   func(c *files.S3Config) { c.SecretKey = "" },
	} {
		c := good
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestDirStoreCopyTo: a copy holds every blob, and a damaged one is named
// rather than copied.
func TestDirStoreCopyTo(t *testing.T) {
	ctx := context.Background()
	from, _ := files.NewDirStore(filepath.Join(t.TempDir(), "a"))
	to, _ := files.NewDirStore(filepath.Join(t.TempDir(), "b"))
	good, _ := from.Put(ctx, []byte("receipt"))
	bad, _ := from.Put(ctx, []byte("photo"))
	path := filepath.Join(from.Dir(), bad[:2], bad[2:4], bad)
	os.Chmod(path, 0o640)
	os.WriteFile(path, []byte("swapped"), 0o640)
	copied, damaged, err := from.CopyTo(ctx, to)
	if err != nil || copied != 1 || len(damaged) != 1 || damaged[0] != bad {
		t.Fatalf("copied %d, damaged %v, %v", copied, damaged, err)
	}
	if _, err := to.Stat(ctx, good); err != nil {
		t.Errorf("the good blob was not copied: %v", err)
	}
	if _, err := to.Stat(ctx, bad); err == nil {
		t.Error("the damaged blob was copied")
	}
}
