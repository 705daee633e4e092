package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"mime/multipart"
	"net/http"
	"reflect"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/ledger"
)

// Files attaches files to claims and reads them back; *files.Service is
// one. The claim page lists a claim's files (from its state) with their
// download links, and offers an upload form to those who may write.
type Files interface {
	Attach(ctx context.Context, claimID uuid.UUID, up files.Upload, actor ledger.Actor) (domain.AttachedFile, eventstore.Position, error)
	Open(ctx context.Context, claimID, fileID uuid.UUID) (domain.AttachedFile, []byte, error)
	Limits() files.Limits
}

// filesTemplate is the claim page's files section; without Files it is
// empty.
const filesTemplate = "claim-files"

func init() {
	funcs["claimFiles"] = claimFilesOf
}

// parseFiles adds the files section to the claim page's templates.
func (s *console) parseFiles(t *template.Template) error {
	if s.cfg.Files == nil {
		_, err := t.New(filesTemplate).Parse("")
		return err
	}
	_, err := t.ParseFS(assets, "assets/files.html")
	return err
}

// mountFiles adds the upload and download routes.
func (s *console) mountFiles(g *echo.Group) {
	if s.cfg.Files == nil {
		return
	}
	g.POST("/claims/:id/files", s.attachFile, s.signedIn)
	g.GET("/claims/:id/files/:file_id", s.downloadFile, s.signedIn)
}

// uploadTooLarge answers an upload whose body is larger than any accepted
// file before the CSRF check reads it (which would fail on the cut-off body
// and say nothing of the size), writing nothing.
func (s *console) uploadTooLarge(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		if s.cfg.Files != nil && r.Method == http.MethodPost && c.Path() == Prefix+"/claims/:id/files" &&
			r.ContentLength > s.cfg.Files.Limits().MaxFileBytes+api.MultipartOverhead {
			return s.refuse(c, http.StatusRequestEntityTooLarge, "files.refused.file.too-large")
		}
		return next(c)
	}
}

// fileRow is one file as the page lists it.
type fileRow struct {
	domain.AttachedFile
	Href string
}

// uploadView is the upload form: a fresh key, the steps to choose from,
// and, after a refused upload, why.
type uploadView struct {
	Href, Key, Step string
	Steps           []string
	Problem         string // a message key
	Detail          string
}

// filesView is what the files section shows.
type filesView struct {
	Files  []fileRow
	Upload uploadView
}

// claimWithUpload is the claim page after a refused upload: the page as it
// is, with the refusal in the upload form.
type claimWithUpload struct {
	claimView
	upload uploadView
}

// claimFilesOf gives the files section of a claim page's data: the claim
// is the data's State field, whatever else the page holds, so that the
// section stays with the page as its data changes.
func claimFilesOf(data any) filesView {
	var (
		st domain.State
		up *uploadView
	)
	if d, ok := data.(claimWithUpload); ok {
		st, up = d.State, &d.upload
	} else if v := reflect.Indirect(reflect.ValueOf(data)); v.Kind() == reflect.Struct {
		if f := v.FieldByName("State"); f.IsValid() && f.CanInterface() {
			st, _ = f.Interface().(domain.State)
		}
	}
	v := filesView{}
	for _, f := range st.Files {
		v.Files = append(v.Files, fileRow{AttachedFile: f, Href: fmt.Sprintf("%s/claims/%s/files/%s", Prefix, st.ID, f.ID)})
	}
	if up != nil {
		v.Upload = *up
	} else {
		v.Upload = uploadView{Href: fmt.Sprintf("%s/claims/%s/files", Prefix, st.ID), Key: uuid.NewString()}
	}
	v.Upload.Steps = append([]string{""}, domain.FileSteps()...)
	return v
}

// Size writes a byte count for people.
func (v *view) Size(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatInt((n+512)>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// attachFile takes the upload form: the file, its step, the form's key as
// the upload's idempotency key (a double submit attaches once).
func (s *console) attachFile(c *echo.Context) error {
	p := personOf(c)
	id, ok := claimIDParam(c)
	if !ok {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	if !mayWrite(p) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	key, step := c.FormValue("key"), c.FormValue("step")
	if key == "" || len(key) > 255 {
		return s.refuse(c, http.StatusBadRequest, "refused.form")
	}
	up := uploadView{Href: fmt.Sprintf("%s/claims/%s/files", Prefix, id), Key: key, Step: step}
	var (
		pos eventstore.Position
		err error
	)
	header, ferr := c.FormFile("file")
	switch {
	case errors.Is(ferr, http.ErrMissingFile):
		up.Problem = "files.refused.missing"
	case ferr != nil:
		return s.refuse(c, http.StatusBadRequest, "refused.form")
	default:
		var f multipart.File
		if f, err = header.Open(); err != nil {
			return s.fail(c, err)
		}
		defer f.Close()
		_, pos, err = s.cfg.Files.Attach(c.Request().Context(), id, files.Upload{Name: header.Filename, Body: f, Step: step, IdempotencyKey: key}, actor(p))
	}
	var (
		refusal *files.Refusal
		invalid domain.ValidationErrors
	)
	switch {
	case up.Problem != "":
	case err == nil:
		return c.Redirect(http.StatusSeeOther, claimHref(id, pos)+"#files-title")
	case errors.Is(err, ledger.ErrNotFound):
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	case errors.As(err, &refusal):
		up.Problem, up.Detail = "files.refused."+refusal.Code, refusal.Detail
	case errors.As(err, &invalid):
		up.Problem, up.Detail = "files.refused.step", invalid.Error()
	default:
		return s.fail(c, err)
	}
	v, err := s.claimPage(c, id, nil)
	if err != nil {
		return s.fail(c, err)
	}
	return s.render(c, http.StatusUnprocessableEntity, "claim", "claim.title", claimWithUpload{claimView: v, upload: up})
}

// downloadFile serves a file as the API does: an attachment in the type
// found at upload, never shown as a page of the console.
func (s *console) downloadFile(c *echo.Context) error {
	if !mayRead(personOf(c)) {
		return s.refuse(c, http.StatusForbidden, "refused.role")
	}
	id, ok := claimIDParam(c)
	fileID, err := uuid.Parse(c.Param("file_id"))
	if !ok || err != nil {
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	}
	f, data, err := s.cfg.Files.Open(c.Request().Context(), id, fileID)
	switch {
	case errors.Is(err, ledger.ErrNotFound), errors.Is(err, files.ErrFileNotFound):
		return s.refuse(c, http.StatusNotFound, "refused.not-found")
	case errors.Is(err, files.ErrFileErased):
		return s.refuse(c, http.StatusGone, "refused.file-erased")
	case err != nil:
		return s.fail(c, err)
	}
	h := c.Response().Header()
	h.Set("Content-Disposition", api.ContentDisposition(f.Name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	return c.Blob(http.StatusOK, f.ContentType, data)
}
