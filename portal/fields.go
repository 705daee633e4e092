package portal

import (
	"html/template"
	"slices"
	"strings"
)

// requiredFields are the claim form's fields a claim cannot do without.
var requiredFields = []string{fCategory, fSerial, fPurchased, fPrice, fDefect, fName, fEmail, fPhone, fLanguage}

// autocomplete tells browsers what a contact field is, so they can fill it.
var autocomplete = map[string]string{fName: "name", fEmail: "email", fPhone: "tel", fSKU: "off", fSerial: "off"}

// fieldView is one field of the claim form as the templates lay it out.
type fieldView struct {
	Page     *page
	Form     *claimForm
	Name     string
	Kind     string
	Hint     string
	Auto     string
	Required bool
	Options  []option
	// Described are the attributes that tie the input to its hint and its
	// error (aria-describedby, aria-invalid).
	Described template.HTMLAttr
}

// field builds a claim form field for the templates.
func field(p *page, name, kind string, options []option) fieldView {
	f := p.Data.(*claimForm)
	v := fieldView{Page: p, Form: f, Name: name, Kind: kind, Options: options, Auto: autocomplete[name],
		Required: slices.Contains(requiredFields, name)}
	if hint := p.T("hint." + name); hint != "hint."+name {
		v.Hint = hint
	}
	var ids []string
	if v.Hint != "" {
		ids = append(ids, name+"-hint")
	}
	attrs := ""
	if f.Errors[name] != "" {
		ids = append(ids, name+"-error")
		attrs = ` aria-invalid="true"`
	}
	if len(ids) > 0 {
		attrs += ` aria-describedby="` + template.HTMLEscapeString(strings.Join(ids, " ")) + `"`
	}
	v.Described = template.HTMLAttr(attrs)
	return v
}

// textView is the text box of one action on the claim page.
type textView struct {
	Page     *page
	View     *claimView
	Action   string
	Label    string
	Required bool
}

func textField(p *page, action, label string, required bool) textView {
	return textView{Page: p, View: p.Data.(*claimView), Action: action, Label: label, Required: required}
}

var funcs = template.FuncMap{
	"has":       func(m map[string]string, k string) bool { return m[k] != "" },
	"field":     field,
	"textField": textField,
}
