package domain_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/domain"
)

func TestAttachFile(t *testing.T) {
	receiptID := uuid.MustParse("5d0c3a1e-7b2f-4d6a-9e8c-1f2a3b4c5d6e")
	photoID := uuid.MustParse("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
	sum := strings.Repeat("0f", 32)
	receipt := func() *domain.AttachFile {
		return &domain.AttachFile{FileID: receiptID, SHA256: sum, Size: 48_000, ContentType: domain.ContentTypePDF,
			Name: " receipt.pdf ", Step: domain.StepProofOfPurchase, Encrypted: true}
	}
	attachedReceipt := domain.FileAttached{FileID: receiptID, SHA256: sum, Size: 48_000, ContentType: domain.ContentTypePDF,
		Name: "receipt.pdf", Step: domain.StepProofOfPurchase, Encrypted: true, At: whenAt}
	withReceipt := with(history(t, "in_repair"), attachedReceipt)
	photo := func(mutate func(c *domain.AttachFile)) *domain.AttachFile {
		c := &domain.AttachFile{FileID: photoID, SHA256: strings.Repeat("1e", 32), Size: 900_000, ContentType: domain.ContentTypeJPEG, Name: "front.jpg", Step: domain.StepIntakePhotos}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	files := func(want ...uuid.UUID) func(t *testing.T, s domain.State) {
		return func(t *testing.T, s domain.State) {
			if len(s.Files) != len(want) {
				t.Fatalf("files %+v, want %v", s.Files, want)
			}
			for i, id := range want {
				if s.Files[i].ID != id {
					t.Errorf("file %d is %s, want %s", i, s.Files[i].ID, id)
				}
			}
		}
	}
	run(t, []gwt{
		{
			name:  "a receipt is attached to a registered claim as its proof of purchase",
			given: history(t, "registered"), when: receipt(),
			then: []domain.Event{attachedReceipt},
			check: func(t *testing.T, s domain.State) {
				f, ok := s.File(receiptID)
				if !ok || f.Name != "receipt.pdf" || f.SHA256 != sum || f.Size != 48_000 || f.Step != domain.StepProofOfPurchase || !f.Encrypted || !f.AttachedAt.Equal(whenAt) {
					t.Errorf("file %+v", f)
				}
				if s.Status != domain.StatusRegistered {
					t.Errorf("status %s: a file changes no status", s.Status)
				}
			},
		},
		{name: "a second file follows the first", given: withReceipt, when: photo(nil), check: files(receiptID, photoID)},
		{name: "a file without a step", given: history(t, "registered"), when: photo(func(c *domain.AttachFile) { c.Step = "" }), check: files(photoID)},
		{name: "after closure too: the signed protocol comes last", given: history(t, "closed"), when: photo(func(c *domain.AttachFile) { c.Step = domain.StepSignedProtocol }), check: files(photoID)},
		{name: "within the claim's limits", given: withReceipt, when: photo(func(c *domain.AttachFile) { c.MaxFiles, c.MaxBytes = 2, 948_000 }), check: files(receiptID, photoID)},
		{name: "the same file id twice", given: withReceipt, when: receipt(), fields: []string{"file_id"}},
		{name: "past the claim's number of files", given: withReceipt, when: photo(func(c *domain.AttachFile) { c.MaxFiles = 1 }), err: domain.ErrClaimFilesFull},
		{name: "past the claim's bytes", given: withReceipt, when: photo(func(c *domain.AttachFile) { c.MaxBytes = 947_999 }), err: domain.ErrClaimFilesFull},
		{name: "an unknown step", given: history(t, "registered"), when: photo(func(c *domain.AttachFile) { c.Step = "selfie" }), fields: []string{"step"}},
		{name: "a type that is not accepted", given: history(t, "registered"), when: photo(func(c *domain.AttachFile) { c.ContentType = "text/html" }), fields: []string{"content_type"}},
		{
			name: "no id, no hash, no size, no name", given: history(t, "registered"),
			when: photo(func(c *domain.AttachFile) {
				c.FileID, c.SHA256, c.Size, c.Name = uuid.Nil, strings.ToUpper(c.SHA256), 0, ""
			}),
			fields: []string{"file_id", "sha256", "size", "name"},
		},
		{name: "no content type", given: history(t, "registered"), when: photo(func(c *domain.AttachFile) { c.ContentType = "" }), fields: []string{"content_type"}},
		{name: "a name is one line", given: history(t, "registered"), when: photo(func(c *domain.AttachFile) { c.Name = "a\n.jpg" }), fields: []string{"name"}},
		{name: "no claim", when: receipt(), err: domain.ErrNoClaim},
	})
}

// TestErasureBlanksFileNames: a file's name is personal data, and goes with the customer's.
func TestErasureBlanksFileNames(t *testing.T) {
	events := with(history(t, "registered"),
		domain.FileAttached{FileID: claimID, SHA256: strings.Repeat("0f", 32), Size: 1, ContentType: domain.ContentTypePNG, Name: "ivan-petrov.png", At: whenAt},
		domain.PersonalDataErased{CustomerID: strings.Repeat("c", 32), At: whenAt})
	s := domain.Fold(events)
	if len(s.Files) != 1 || s.Files[0].Name != domain.Erased || s.Files[0].SHA256 == "" {
		t.Errorf("files after erasure: %+v", s.Files)
	}
	if e := domain.ErasePersonal(events[len(events)-2]).(domain.FileAttached); e.Name != domain.Erased {
		t.Errorf("ErasePersonal left the name %q", e.Name)
	}
	if slices.Contains(domain.Actions(), domain.ActionAttachFile) {
		t.Error("attach-file is among the JSON actions; a file must come with its bytes")
	}
}
