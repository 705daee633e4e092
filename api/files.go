package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/ledger"
)

// ClaimFiles attaches files to claims and reads them back (files.Service).
type ClaimFiles interface {
	Attach(ctx context.Context, claimID uuid.UUID, up files.Upload, actor ledger.Actor) (domain.AttachedFile, eventstore.Position, error)
	List(ctx context.Context, claimID uuid.UUID) ([]domain.AttachedFile, error)
	Open(ctx context.Context, claimID, fileID uuid.UUID) (domain.AttachedFile, []byte, error)
	Limits() files.Limits
}

// filesRoute is the upload route, which takes bodies up to the files
// limit instead of MaxBodyBytes.
const filesRoute = "/v1/claims/:id/files"

// multipartOverhead is what a multipart body adds around the file: the
// boundaries, the part headers and the other fields.
const multipartOverhead = 64 << 10

// MultipartOverhead is the bytes an upload's body may take besides its
// file, for the console's own check of an upload's size.
const MultipartOverhead = multipartOverhead

// registerFiles adds the files routes: who may change a claim may attach
// to it, who may read a claim may read its files.
func (s *server) registerFiles(v1 *echo.Group) {
	v1.POST("/claims/:id/files", s.attachFile, require(PermWriteClaims))
	v1.GET("/claims/:id/files", s.listFiles, require(PermReadClaims))
	v1.GET("/claims/:id/files/:file_id", s.getFile, require(PermReadClaims))
}

// isUpload tells the body limit to let an upload through: the API's
// (filesRoute) or the console's (mounted on the same server), which
// uploadLimit bounds by the files limit instead.
func (s *server) isUpload(c *echo.Context) bool {
	return s.cfg.Files != nil && c.Request().Method == http.MethodPost && strings.HasSuffix(c.Path(), "/claims/:id/files")
}

// uploadLimit bounds an upload's body by the largest file plus the
// multipart's own bytes.
func (s *server) uploadLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if s.isUpload(c) {
			r := c.Request()
			r.Body = http.MaxBytesReader(c.Response(), r.Body, s.cfg.Files.Limits().MaxFileBytes+multipartOverhead)
		}
		return next(c)
	}
}

func (s *server) claimFiles() (ClaimFiles, error) {
	if s.cfg.Files == nil {
		return nil, newProblem(http.StatusNotImplemented, "files-unavailable", "This deployment keeps no files", "the service runs without a file store")
	}
	return s.cfg.Files, nil
}

// fileResponse is a file as the API shows it, with its download link.
type fileResponse struct {
	domain.AttachedFile
	Href string `json:"href"`
}

func fileJSON(claim uuid.UUID, f domain.AttachedFile) fileResponse {
	return fileResponse{AttachedFile: f, Href: "/v1/claims/" + claim.String() + "/files/" + f.ID.String()}
}

// attachFile takes a multipart/form-data body with the part "file" and
// optionally "step"; nothing else.
func (s *server) attachFile(c *echo.Context) error {
	svc, err := s.claimFiles()
	if err != nil {
		return err
	}
	id, err := claimID(c)
	if err != nil {
		return err
	}
	req, err := s.request(c)
	if err != nil {
		return err
	}
	release, err := s.uploadSlot(c.Request().Context())
	if err != nil {
		return err
	}
	defer release()
	limit := svc.Limits().MaxFileBytes
	r := c.Request()
	mediaType, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Send the file as multipart/form-data",
			`a part named "file" with the file, and optionally a part named "step"`)
	}
	up, err := readUpload(multipart.NewReader(r.Body, params["boundary"]), limit)
	if err != nil {
		return err
	}
	up.IdempotencyKey = req.IdempotencyKey
	f, pos, err := svc.Attach(r.Context(), id, up, req.Actor)
	if err != nil {
		return err
	}
	res := fileJSON(id, f)
	c.Response().Header().Set(echo.HeaderLocation, res.Href)
	if pos != (eventstore.Position{}) {
		c.Response().Header().Set("X-Position", pos.String())
	}
	return c.JSON(http.StatusCreated, res)
}

// maxUploads is how many uploads are read at once: each holds its file in
// memory (up to the files limit) while it is checked and stored.
const maxUploads = 4

// uploadSlot waits up to a few seconds for one of the maxUploads places, or
// answers 503 with Retry-After: a burst of uploads must not take the
// service past its memory.
func (s *server) uploadSlot(ctx context.Context) (release func(), err error) {
	timer := time.NewTimer(3 * time.Second)
	defer timer.Stop()
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil, newProblem(http.StatusServiceUnavailable, "uploads-busy", "Too many uploads at once; retry shortly",
		fmt.Sprintf("the service reads %d uploads at a time", maxUploads))
}

// readUpload reads the parts of an upload: "file" up to limit+1 bytes (so
// that the service sees a file too large as such), "step" up to a line.
func readUpload(mr *multipart.Reader, limit int64) (files.Upload, error) {
	var (
		up      files.Upload
		data    []byte
		hasFile bool
		hasStep bool
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var maxBytes *http.MaxBytesError
			if errors.As(err, &maxBytes) {
				return up, tooLarge(limit)
			}
			return up, badRequest("invalid-multipart", "the multipart body does not parse: %v", err)
		}
		switch name := part.FormName(); {
		case name == "file" && !hasFile:
			hasFile = true
			up.Name = part.FileName()
			if data, err = io.ReadAll(io.LimitReader(part, limit+1)); err != nil {
				var maxBytes *http.MaxBytesError
				if errors.As(err, &maxBytes) {
					return up, tooLarge(limit)
				}
				return up, badRequest("invalid-multipart", "the file part does not read: %v", err)
			}
			if int64(len(data)) > limit {
				return up, tooLarge(limit)
			}
		case name == "step" && !hasStep:
			hasStep = true
			v, err := io.ReadAll(io.LimitReader(part, 65))
			if err != nil {
				return up, badRequest("invalid-multipart", "the step part does not read: %v", err)
			}
			up.Step = strings.TrimSpace(string(v))
		default:
			return up, badRequest("unknown-part", "the part %q is not understood; send \"file\" once and \"step\" at most once", name)
		}
		part.Close()
	}
	if !hasFile {
		return up, domain.ValidationErrors{{Field: "file", Problem: "is required: a multipart part named \"file\""}}
	}
	up.Body = bytes.NewReader(data)
	return up, nil
}

func tooLarge(limit int64) error {
	return &files.Refusal{Code: files.CodeTooLarge, Kind: "too-large", Detail: fmt.Sprintf("the file is larger than %d bytes, the most one file may have", limit)}
}

func (s *server) listFiles(c *echo.Context) error {
	svc, err := s.claimFiles()
	if err != nil {
		return err
	}
	id, err := claimID(c)
	if err != nil {
		return err
	}
	list, err := svc.List(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := make([]fileResponse, len(list))
	for i, f := range list {
		out[i] = fileJSON(id, f)
	}
	return c.JSON(http.StatusOK, map[string]any{"files": out})
}

// getFile serves a file as a download, in the type the service recognised
// in it: Content-Disposition attachment and nosniff, so that a browser
// never renders it as a page of this origin.
func (s *server) getFile(c *echo.Context) error {
	svc, err := s.claimFiles()
	if err != nil {
		return err
	}
	id, err := claimID(c)
	if err != nil {
		return err
	}
	fileID, err := uuid.Parse(c.Param("file_id"))
	if err != nil {
		return newProblem(http.StatusNotFound, "file-not-found", "No such file", "file ids are UUIDs")
	}
	f, data, err := svc.Open(c.Request().Context(), id, fileID)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Disposition", ContentDisposition(f.Name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Digest", "sha-256="+f.SHA256)
	return c.Blob(http.StatusOK, f.ContentType, data)
}

// ContentDisposition is an attachment header for name: an ASCII fallback
// and the UTF-8 name (RFC 6266, RFC 8187).
func ContentDisposition(name string) string {
	fallback := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' || r == ';' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, fallback, extValue(name))
}

// extValue percent-encodes name as an RFC 8187 value: every byte but the
// attr-chars.
func extValue(name string) string {
	var b strings.Builder
	for _, c := range []byte(name) {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// filesProblem maps the files service's refusals and errors; problemFor
// calls it.
func filesProblem(err error) *Problem {
	var refusal *files.Refusal
	switch {
	case errors.As(err, &refusal):
		status, slug := http.StatusUnprocessableEntity, "file-type"
		switch refusal.Code {
		case files.CodeTooLarge:
			status, slug = http.StatusRequestEntityTooLarge, "file-too-large"
		case files.CodeClaimFull:
			status, slug = http.StatusConflict, "file-claim-full"
		case files.CodeHEIC:
			status, slug = http.StatusUnsupportedMediaType, "file-heic"
		case files.CodeType:
			status = http.StatusUnsupportedMediaType
			if refusal.Kind == "polyglot" {
				slug = "file-polyglot"
			}
		}
		return newProblem(status, slug, refusalTitle(refusal), refusal.Detail)
	case errors.Is(err, files.ErrFileNotFound):
		return newProblem(http.StatusNotFound, "file-not-found", "No such file", "the claim has no file with this id")
	case errors.Is(err, files.ErrFileErased):
		return newProblem(http.StatusGone, "file-erased", "The file's customer was erased",
			"the file was sealed with the customer's key, destroyed at the customer's erasure; its content can no longer be read")
	case errors.Is(err, files.ErrFileDamaged):
		return newProblem(http.StatusInternalServerError, "file-damaged", "The stored file is missing or altered",
			"the file store does not hold the bytes the ledger recorded; run rmaledger audit verify, and restore the files from a backup")
	}
	return nil
}

func refusalTitle(r *files.Refusal) string {
	switch {
	case r.Code == files.CodeTooLarge:
		return "The file is too large"
	case r.Code == files.CodeClaimFull:
		return "The claim holds as many files as it may"
	case r.Code == files.CodeHEIC:
		return "HEIC photos are not accepted; convert to JPEG"
	case r.Kind == "polyglot":
		return "The file is two kinds of file at once"
	}
	return "The file is not an accepted JPEG, PNG or PDF"
}
