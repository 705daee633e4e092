package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Files that travel with a claim: the proof of purchase, the intake photos, the service
// center's act of unrepairability, the signed protocol. The file's bytes are kept apart, in a
// content-addressed store; the event records their SHA-256, so the claim's hash chain covers
// the file, and what the file is (its checked type, size, name and the step it documents).

// ActionAttachFile attaches a stored file to a claim. It is not among Actions: a file comes
// with its bytes, through the files endpoint, never as a JSON action.
const ActionAttachFile Action = "attach-file"

// The steps a file documents; StepOther is anything else (a photo of the box, a letter).
const (
	StepProofOfPurchase    = "proof_of_purchase"
	StepDefectPhotos       = "defect_photos" // the customer's photos of the defect, sent with the claim
	StepIntakePhotos       = "intake_photos"
	StepUnrepairabilityAct = "unrepairability_act"
	StepSignedProtocol     = "signed_protocol"
	StepOther              = "other"
)

// FileSteps lists the steps a file may be attached to, in lifecycle order.
func FileSteps() []string {
	return []string{StepProofOfPurchase, StepDefectPhotos, StepIntakePhotos, StepUnrepairabilityAct, StepSignedProtocol, StepOther}
}

// The content types a file may have: what the files service recognised in its bytes.
const (
	ContentTypeJPEG = "image/jpeg"
	ContentTypePNG  = "image/png"
	ContentTypePDF  = "application/pdf"
)

// ErrClaimFilesFull is returned when a file would take the claim past the number of files or
// the bytes the deployment allows one claim.
var ErrClaimFilesFull = errors.New("the claim holds as many files as it may")

// FileAttached records a file attached to the claim. SHA256 is the address of the stored bytes
// in the blob store; Encrypted says they are sealed with the customer's data key (then the hash
// is of the ciphertext, so an erased customer's file still verifies, unreadable). Size is the
// file's own size, before any encryption. Name is the name the file was uploaded with, a
// personal field (a receipt's file name often holds the buyer's name), sealed like the
// customer's. Step is one of FileSteps, empty for a file not tied to a step.
type FileAttached struct {
	FileID      uuid.UUID `json:"file_id"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	Name        string    `json:"name"`
	Step        string    `json:"step,omitempty"`
	Encrypted   bool      `json:"encrypted,omitempty"`
	At          time.Time `json:"at"`
}

// EventType returns "claim.file_attached.v1".
func (FileAttached) EventType() string { return "claim.file_attached.v1" }

func (e FileAttached) occurredAt() time.Time { return e.At }

// AttachedFile is a file on the claim, as State lists it.
type AttachedFile struct {
	ID          uuid.UUID `json:"id"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	Name        string    `json:"name"`
	Step        string    `json:"step,omitempty"`
	Encrypted   bool      `json:"encrypted,omitempty"`
	AttachedAt  time.Time `json:"attached_at"`
}

// File returns the claim's file with the id; false when there is none.
func (s State) File(id uuid.UUID) (AttachedFile, bool) {
	i := slices.IndexFunc(s.Files, func(f AttachedFile) bool { return f.ID == id })
	if i < 0 {
		return AttachedFile{}, false
	}
	return s.Files[i], true
}

// FilesSize is the sum of the sizes of the claim's files.
func (s State) FilesSize() int64 {
	var n int64
	for _, f := range s.Files {
		n += f.Size
	}
	return n
}

// AttachFile attaches a file the application has checked and stored. Every field but the limits
// comes from the application: the id it assigned, the address and size of the stored bytes,
// the type it recognised in them. MaxFiles and MaxBytes are the deployment's limits for one
// claim (zero: no limit); Decide applies them to the claim as it stands, so that two uploads
// racing for the last place cannot both get it.
type AttachFile struct {
	FileID      uuid.UUID `json:"file_id"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	Name        string    `json:"name"`
	Step        string    `json:"step,omitempty"`
	Encrypted   bool      `json:"encrypted,omitempty"`
	MaxFiles    int       `json:"-"`
	MaxBytes    int64     `json:"-"`
}

// Action returns ActionAttachFile.
func (AttachFile) Action() Action { return ActionAttachFile }

// maxFileName bounds a file's name, in characters.
const maxFileName = 255

// Validate checks the fields.
func (c AttachFile) Validate() error {
	var v validation
	if c.FileID == uuid.Nil {
		v.fail("file_id", "is required")
	}
	if !isSHA256(c.SHA256) {
		v.fail("sha256", "must be 64 lowercase hex digits")
	}
	if c.Size <= 0 {
		v.fail("size", "must be positive")
	}
	v.required("content_type", c.ContentType)
	v.oneOf("content_type", c.ContentType, ContentTypeJPEG, ContentTypePNG, ContentTypePDF)
	v.required("name", c.Name)
	v.line("name", c.Name, maxFileName)
	if c.Step != "" {
		v.oneOf("step", c.Step, FileSteps()...)
	}
	return v.result()
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// decide refuses a file id the claim already has (an id names one file for good) and a file
// past the claim's limits.
func (c AttachFile) decide(s State, at time.Time, _ Policy) (Event, error) {
	if _, dup := s.File(c.FileID); dup {
		return nil, ValidationErrors{{Field: "file_id", Problem: "is already a file of the claim"}}
	}
	if c.MaxFiles > 0 && len(s.Files) >= c.MaxFiles {
		return nil, fmt.Errorf("%w: it has %d files, the most one claim may have", ErrClaimFilesFull, len(s.Files))
	}
	if c.MaxBytes > 0 && s.FilesSize()+c.Size > c.MaxBytes {
		return nil, fmt.Errorf("%w: its files take %d bytes; %d more would pass the %d one claim may have",
			ErrClaimFilesFull, s.FilesSize(), c.Size, c.MaxBytes)
	}
	return FileAttached{
		FileID: c.FileID, SHA256: c.SHA256, Size: c.Size, ContentType: c.ContentType,
		Name: strings.TrimSpace(c.Name), Step: c.Step, Encrypted: c.Encrypted, At: at,
	}, nil
}

// evolveFile adds the file to the claim's list.
func (s State) evolveFile(e FileAttached) State {
	s.Files = append(slices.Clip(s.Files), AttachedFile{
		ID: e.FileID, SHA256: e.SHA256, Size: e.Size, ContentType: e.ContentType,
		Name: e.Name, Step: e.Step, Encrypted: e.Encrypted, AttachedAt: e.At,
	})
	return s
}
