package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/privacy"
)

// Errors of the service, matched with errors.Is. ledger.ErrNotFound passes
// through for a claim that does not exist.
var (
	// ErrFileNotFound means the claim has no file with the id.
	ErrFileNotFound = errors.New("files: the claim has no such file")
	// ErrFileErased means the file's customer was erased: its sealed bytes
	// are still stored, and still match the ledger's hash, but the key that
	// opened them is destroyed.
	ErrFileErased = errors.New("files: the file's customer was erased; its content is unreadable")
	// ErrFileDamaged means the stored bytes no longer hash to the address
	// the ledger recorded, or are missing: audit verify names the file.
	ErrFileDamaged = errors.New("files: the stored file is missing or altered")
)

// CustomerActor is who a file uploaded by the customer is recorded as.
var CustomerActor = ledger.Actor{Name: "customer", Role: "customer"}

// Claims is what the service needs of the ledger: the claim as it stands,
// and the command path every change goes through.
type Claims interface {
	Claim(ctx context.Context, id uuid.UUID) (domain.State, eventstore.Position, error)
	Execute(ctx context.Context, id uuid.UUID, cmd domain.Command, req ledger.Request) (ledger.Result, error)
}

// Limits bound what a claim may hold. A zero field takes its default.
type Limits struct {
	// MaxFileBytes bounds one upload (default 10 MiB).
	MaxFileBytes int64
	// MaxClaimFiles bounds the files of one claim (default 50).
	MaxClaimFiles int
	// MaxClaimBytes bounds the bytes of one claim's files (default 100 MiB).
	MaxClaimBytes int64
	// MaxPixels bounds an image's width times height (default DefaultMaxPixels).
	MaxPixels int
}

// Default limits.
const (
	DefaultMaxFileBytes  = 10 << 20
	DefaultMaxClaimFiles = 50
	DefaultMaxClaimBytes = 100 << 20
)

func (l *Limits) setDefaults() {
	if l.MaxFileBytes == 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxClaimFiles == 0 {
		l.MaxClaimFiles = DefaultMaxClaimFiles
	}
	if l.MaxClaimBytes == 0 {
		l.MaxClaimBytes = DefaultMaxClaimBytes
	}
	if l.MaxPixels == 0 {
		l.MaxPixels = DefaultMaxPixels
	}
}

// Validate reports limits that cannot work.
func (l Limits) Validate() error {
	if l.MaxFileBytes < 0 || l.MaxClaimFiles < 0 || l.MaxClaimBytes < 0 || l.MaxPixels < 0 {
		return errors.New("files: limits must not be negative")
	}
	return nil
}

// Config wires a Service.
type Config struct {
	Claims Claims
	Blobs  BlobStore
	// Privacy, when set, seals every file of a claim whose personal data
	// is sealed with the customer's key (privacy.Codec.SealBlob); nil
	// stores files as they are.
	Privacy *privacy.Codec
	Limits  Limits
	// NewID makes file ids (default uuid.New).
	NewID func() uuid.UUID
}

// Service attaches files to claims and reads them back.
type Service struct {
	cfg Config
	// inspecting admits two uploads at a time to Inspect: decoding a
	// 25-megapixel photo takes about 100 MB, and more at once would take
	// the service past its memory.
	inspecting chan struct{}
}

// NewService returns a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Claims == nil || cfg.Blobs == nil {
		return nil, errors.New("files: Claims and Blobs are required")
	}
	cfg.Limits.setDefaults()
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.New
	}
	return &Service{cfg: cfg, inspecting: make(chan struct{}, 2)}, nil
}

// Limits are the limits in force.
func (s *Service) Limits() Limits { return s.cfg.Limits }

// Upload is a file as it arrives.
type Upload struct {
	// Name is the file's name on the uploader's machine; only its last
	// path element is kept.
	Name string
	// Body is the file's bytes; at most Limits.MaxFileBytes are read.
	Body io.Reader
	// Step is one of domain.FileSteps, or empty.
	Step string
	// IdempotencyKey, when set, makes a retried upload answer the file the
	// first one attached instead of attaching it twice.
	IdempotencyKey string
}

// fileIDs derives a file's id from an idempotency key.
var fileIDs = uuid.MustParse("b2d6f0a4-1c3e-4f5a-8b7c-9d0e1f2a3b4c")

// Attach checks the upload (Inspect), stores it and records it on the
// claim. A refusal (*Refusal, domain.ValidationErrors for the step or the
// name, ledger.ErrNotFound) writes nothing: the checks run before the
// blob is stored, and the claim's limits once more when the event is
// decided, so that a race for the claim's last place leaves at most an
// unreferenced blob.
func (s *Service) Attach(ctx context.Context, claimID uuid.UUID, up Upload, actor ledger.Actor) (domain.AttachedFile, eventstore.Position, error) {
	if up.Step != "" && !contains(domain.FileSteps(), up.Step) {
		return domain.AttachedFile{}, eventstore.Position{}, domain.ValidationErrors{{Field: "step", Problem: "must be one of " + strings.Join(domain.FileSteps(), ", ")}}
	}
	claim, _, err := s.cfg.Claims.Claim(ctx, claimID)
	if err != nil {
		return domain.AttachedFile{}, eventstore.Position{}, err
	}
	id := s.cfg.NewID()
	if up.IdempotencyKey != "" {
		id = uuid.NewSHA1(fileIDs, []byte(claimID.String()+"\x00"+actor.Name+"\x00"+up.IdempotencyKey))
		if f, ok := claim.File(id); ok {
			return f, eventstore.Position{}, nil
		}
	}
	lim := s.cfg.Limits
	if len(claim.Files) >= lim.MaxClaimFiles {
		return domain.AttachedFile{}, eventstore.Position{}, refuse(CodeClaimFull, "claim-full", "the claim holds %d files, the most one claim may have", len(claim.Files))
	}
	data, err := io.ReadAll(io.LimitReader(up.Body, lim.MaxFileBytes+1))
	if err != nil {
		return domain.AttachedFile{}, eventstore.Position{}, fmt.Errorf("files: reading the upload: %w", err)
	}
	if int64(len(data)) > lim.MaxFileBytes {
		return domain.AttachedFile{}, eventstore.Position{}, refuse(CodeTooLarge, "too-large", "the file is larger than %s, the most one file may have", formatBytes(lim.MaxFileBytes))
	}
	content, err := s.inspect(ctx, data)
	if err != nil {
		return domain.AttachedFile{}, eventstore.Position{}, err
	}
	if used := claim.FilesSize(); used+int64(len(content.Data)) > lim.MaxClaimBytes {
		return domain.AttachedFile{}, eventstore.Position{}, refuse(CodeClaimFull, "claim-full", "the claim's files take %s; this one would pass the %s one claim may have", formatBytes(used), formatBytes(lim.MaxClaimBytes))
	}
	name := cleanName(up.Name, content.Type)
	stored, encrypted, err := s.seal(ctx, claim, id, content.Data)
	if err != nil {
		return domain.AttachedFile{}, eventstore.Position{}, err
	}
	address, err := s.cfg.Blobs.Put(ctx, stored)
	if err != nil {
		return domain.AttachedFile{}, eventstore.Position{}, err
	}
	cmd := &domain.AttachFile{FileID: id, SHA256: address, Size: int64(len(content.Data)), ContentType: content.Type,
		Name: name, Step: up.Step, Encrypted: encrypted, MaxFiles: lim.MaxClaimFiles, MaxBytes: lim.MaxClaimBytes}
	res, err := s.cfg.Claims.Execute(ctx, claimID, cmd, ledger.Request{Actor: actor})
	var invalid domain.ValidationErrors
	switch {
	case errors.Is(err, domain.ErrClaimFilesFull):
		return domain.AttachedFile{}, eventstore.Position{}, refuse(CodeClaimFull, "claim-full", "%s", strings.TrimPrefix(err.Error(), domain.ErrClaimFilesFull.Error()+": "))
	case errors.As(err, &invalid) && up.IdempotencyKey != "" && len(invalid) == 1 && invalid[0].Field == "file_id":
		// A concurrent retry of this upload attached it first.
		claim, pos, err := s.cfg.Claims.Claim(ctx, claimID)
		if f, ok := claim.File(id); ok && err == nil {
			return f, pos, nil
		}
		return domain.AttachedFile{}, eventstore.Position{}, err
	case err != nil:
		return domain.AttachedFile{}, eventstore.Position{}, err
	}
	f, _ := res.Claim.File(id)
	return f, res.Position, nil
}

// inspect runs Inspect when a place is free, or gives up with ctx.
func (s *Service) inspect(ctx context.Context, data []byte) (Content, error) {
	select {
	case s.inspecting <- struct{}{}:
		defer func() { <-s.inspecting }()
	case <-ctx.Done():
		return Content{}, ctx.Err()
	}
	return Inspect(data, s.cfg.Limits.MaxPixels)
}

// CheckCustomerFile runs the checks AttachCustomerFile would on a file not
// yet tied to a claim (the customer portal's claim form, before it
// registers anything): its size and what Inspect finds. It stores
// nothing. A refusal has RefusalCode as AttachCustomerFile's.
func (s *Service) CheckCustomerFile(ctx context.Context, body io.Reader) error {
	lim := s.cfg.Limits
	data, err := io.ReadAll(io.LimitReader(body, lim.MaxFileBytes+1))
	if err != nil {
		return fmt.Errorf("files: reading the upload: %w", err)
	}
	if int64(len(data)) > lim.MaxFileBytes {
		return refuse(CodeTooLarge, "too-large", "the file is larger than %s, the most one file may have", formatBytes(lim.MaxFileBytes))
	}
	_, err = s.inspect(ctx, data)
	return err
}

// AttachCustomerFile attaches a file the customer uploaded (from the
// customer portal), recorded as the customer's. The image is encoded anew,
// so its metadata is gone. A refusal has RefusalCode: file.type,
// file.too-large, file.claim-full or file.heic.
func (s *Service) AttachCustomerFile(ctx context.Context, claimID uuid.UUID, name string, body io.Reader, step string) error {
	_, _, err := s.Attach(ctx, claimID, Upload{Name: name, Body: body, Step: step}, CustomerActor)
	return err
}

// seal encrypts the file under the claim's customer's key when the claim's
// personal data is sealed (the files of a claim show the customer's goods,
// receipts and signatures: all of them are personal).
func (s *Service) seal(ctx context.Context, claim domain.State, id uuid.UUID, data []byte) ([]byte, bool, error) {
	c := s.cfg.Privacy
	if c == nil {
		return data, false, nil
	}
	customer := claim.CustomerID
	if customer == "" {
		phone := claim.Customer.Phone
		if phone == "" || phone == domain.Erased {
			return data, false, nil
		}
		var err error
		if customer, err = c.CustomerID(ctx, phone); err != nil {
			return nil, false, err
		}
	}
	sealed, err := c.SealBlob(ctx, customer, label(claim.ID, id), data)
	if err != nil {
		return nil, false, fmt.Errorf("files: %w", err)
	}
	return sealed, true, nil
}

// label binds a sealed file to its claim and id.
func label(claim, file uuid.UUID) string { return claim.String() + "/" + file.String() }

// List returns the claim's files, oldest first.
func (s *Service) List(ctx context.Context, claimID uuid.UUID) ([]domain.AttachedFile, error) {
	claim, _, err := s.cfg.Claims.Claim(ctx, claimID)
	if err != nil {
		return nil, err
	}
	return claim.Files, nil
}

// Open returns one file of the claim and its content, checked against the
// hash the ledger recorded and opened with the customer's key. It returns
// ErrFileNotFound, ErrFileErased for an erased customer's file, and
// ErrFileDamaged when the stored bytes are missing or altered.
func (s *Service) Open(ctx context.Context, claimID, fileID uuid.UUID) (domain.AttachedFile, []byte, error) {
	claim, _, err := s.cfg.Claims.Claim(ctx, claimID)
	if err != nil {
		return domain.AttachedFile{}, nil, err
	}
	f, ok := claim.File(fileID)
	if !ok {
		return domain.AttachedFile{}, nil, ErrFileNotFound
	}
	rc, err := s.cfg.Blobs.Get(ctx, f.SHA256)
	if errors.Is(err, ErrBlobNotFound) {
		return f, nil, fmt.Errorf("%w: file %s of claim %s: no blob %s", ErrFileDamaged, f.ID, claimID, f.SHA256)
	}
	if err != nil {
		return f, nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, f.Size*2+1<<20))
	if err != nil {
		return f, nil, err
	}
	if Address(data) != f.SHA256 {
		return f, nil, fmt.Errorf("%w: file %s of claim %s: its bytes no longer hash to %s", ErrFileDamaged, f.ID, claimID, f.SHA256)
	}
	if !f.Encrypted {
		return f, data, nil
	}
	if s.cfg.Privacy == nil {
		return f, nil, fmt.Errorf("files: file %s is sealed and the service runs without a key store", f.ID)
	}
	plain, err := s.cfg.Privacy.OpenBlob(ctx, label(claimID, fileID), data)
	if errors.Is(err, privacy.ErrErased) {
		return f, nil, ErrFileErased
	}
	if err != nil {
		return f, nil, err
	}
	return f, plain, nil
}

// cleanName keeps the last element of the uploaded name, without control
// or bidirectional characters, at most 200 bytes, and ending in the
// extension of the type found: a PNG uploaded as "x.html" downloads as
// "x.html.png", never as a page.
func cleanName(name, typ string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimSpace(name))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError || r == '"' {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" {
		name = ""
	}
	ext := map[string]string{domain.ContentTypeJPEG: ".jpg", domain.ContentTypePNG: ".png", domain.ContentTypePDF: ".pdf"}[typ]
	lower := strings.ToLower(name)
	switch {
	case typ == domain.ContentTypeJPEG && (strings.HasSuffix(lower, ".jpg") || strings.HasSuffix(lower, ".jpeg")):
	case strings.HasSuffix(lower, ext):
	default:
		name = strings.TrimSuffix(name, ".") + ext
	}
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name[:len(name)-len(ext)])
		name = name[:len(name)-len(ext)-size] + ext
	}
	if strings.TrimSuffix(name, ext) == "" {
		name = "file" + ext
	}
	return name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
