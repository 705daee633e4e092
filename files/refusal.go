package files

import "fmt"

// The codes of a refused upload, the stable names Refusal.RefusalCode gives.
const (
	// CodeType: the bytes are not a JPEG, PNG or PDF, or are also another
	// kind of file (a polyglot), or are damaged.
	CodeType = "file.type"
	// CodeTooLarge: the file is larger than one file may be (bytes, or an
	// image's pixels).
	CodeTooLarge = "file.too-large"
	// CodeClaimFull: the claim holds as many files, or bytes, as it may.
	CodeClaimFull = "file.claim-full"
	// CodeHEIC: a HEIC/HEIF photo, which is not accepted (see Inspect).
	CodeHEIC = "file.heic"
)

// Refusal is an upload refused for what it is: nothing of it was written.
// Code is one of the Code constants; Kind names the refusal more precisely
// ("polyglot" within CodeType, for instance) for the API's problem type;
// Detail says what was found and what to do, in a sentence for the person
// who uploaded it.
type Refusal struct {
	Code   string
	Kind   string
	Detail string
}

// Error is the detail, prefixed with the code.
func (r *Refusal) Error() string { return r.Code + ": " + r.Detail }

// RefusalCode returns the code: file.type, file.too-large, file.claim-full
// or file.heic.
func (r *Refusal) RefusalCode() string { return r.Code }

func refuse(code, kind, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}
