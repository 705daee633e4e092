package email

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	ttemplate "text/template"

	"github.com/rmaledger/rmaledger/i18n"
)

// embedded holds the templates and the catalogues.
//
//go:embed templates messages/*.json
var embedded embed.FS

// The files of a kind of message, under templates/<kind>/. An SMS text is
// only made for the kinds that have sms.txt.
const (
	subjectFile = "subject.txt"
	textFile    = "text.txt"
	htmlFile    = "body.html"
	smsFile     = "sms.txt"
	layoutText  = "layout.txt"
	layoutHTML  = "layout.html"
)

// templates is the parsed set of every kind's templates.
type templates struct {
	cat  *i18n.Catalogue[*locale]
	text map[string]*ttemplate.Template // "<kind>/<file>" of the .txt files
	html map[string]*htemplate.Template // "<kind>/body.html"
	// kinds lists the kinds in the set, in the order Check renders them.
	kinds []string
}

// source reads a template file: from dir when it holds one, else embedded.
type source struct{ dir string }

// read returns the file's text and the name to report it by.
func (s source) read(name string) (string, string, error) {
	if s.dir != "" {
		p := filepath.Join(s.dir, filepath.FromSlash(name))
		b, err := os.ReadFile(p)
		if err == nil {
			return string(b), p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", p, err
		}
	}
	b, err := fs.ReadFile(embedded, path.Join("templates", name))
	return string(b), "templates/" + name, err
}

// loadTemplates parses the embedded templates, each replaced by its
// namesake under dir when there is one.
func loadTemplates(dir string) (*templates, error) {
	cat, err := loadCatalogue()
	if err != nil {
		return nil, err
	}
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("email: template directory %s: not a readable directory", dir)
		}
	}
	src := source{dir}
	t := &templates{cat: cat, text: map[string]*ttemplate.Template{}, html: map[string]*htemplate.Template{}}
	entries, err := fs.ReadDir(embedded, "templates")
	if err != nil {
		return nil, err
	}
	layoutTxt, layoutTxtName, err := src.read(layoutText)
	if err != nil {
		return nil, fmt.Errorf("email: template %s: %w", layoutTxtName, err)
	}
	layoutHTM, layoutHTMName, err := src.read(layoutHTML)
	if err != nil {
		return nil, fmt.Errorf("email: template %s: %w", layoutHTMName, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		kind := e.Name()
		t.kinds = append(t.kinds, kind)
		for _, file := range []string{subjectFile, textFile, smsFile} {
			body, name, err := src.read(kind + "/" + file)
			if errors.Is(err, fs.ErrNotExist) && file == smsFile {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("email: template %s: %w", name, err)
			}
			tt := ttemplate.New(file).Option("missingkey=error")
			if file == textFile {
				if _, err := tt.New(layoutText).Parse(layoutTxt); err != nil {
					return nil, fmt.Errorf("email: template %s: %w", layoutTxtName, err)
				}
			}
			if _, err := tt.Parse(body); err != nil {
				return nil, fmt.Errorf("email: template %s: %w", name, err)
			}
			t.text[kind+"/"+file] = tt
		}
		body, name, err := src.read(kind + "/" + htmlFile)
		if err != nil {
			return nil, fmt.Errorf("email: template %s: %w", name, err)
		}
		ht := htemplate.New(htmlFile).Option("missingkey=error")
		if _, err := ht.New(layoutHTML).Parse(layoutHTM); err != nil {
			return nil, fmt.Errorf("email: template %s: %w", layoutHTMName, err)
		}
		if _, err := ht.Parse(body); err != nil {
			return nil, fmt.Errorf("email: template %s: %w", name, err)
		}
		t.html[kind] = ht
	}
	return t, nil
}

// rendered is one message's texts.
type rendered struct {
	Subject, Text, HTML, SMS string
}

// render fills the kind's templates with v; the error names the file and
// the language.
func (t *templates) render(kind string, v view) (rendered, error) {
	var out rendered
	var missing []string
	v.missing = &missing
	fail := func(file string, err error) (rendered, error) {
		return rendered{}, fmt.Errorf("email: template %s/%s (%s): %w", kind, file, v.loc.Code, err)
	}
	for _, f := range []struct {
		file string
		dst  *string
	}{{subjectFile, &out.Subject}, {textFile, &out.Text}, {smsFile, &out.SMS}} {
		tt, ok := t.text[kind+"/"+f.file]
		if !ok {
			if f.file == smsFile {
				continue
			}
			return fail(f.file, errors.New("no such template"))
		}
		var b bytes.Buffer
		if err := tt.Execute(&b, v); err != nil {
			return fail(f.file, err)
		}
		*f.dst = strings.TrimSpace(b.String())
	}
	ht, ok := t.html[kind]
	if !ok {
		return fail(htmlFile, errors.New("no such template"))
	}
	var b bytes.Buffer
	if err := ht.Execute(&b, v); err != nil {
		return fail(htmlFile, err)
	}
	out.HTML = b.String()
	if len(missing) > 0 {
		return fail("*", fmt.Errorf("no text for %q in messages/%s.json", missing, v.loc.Code))
	}
	out.Subject = strings.Join(strings.Fields(out.Subject), " ")
	if out.Subject == "" {
		return fail(subjectFile, errors.New("the subject is empty"))
	}
	return out, nil
}
