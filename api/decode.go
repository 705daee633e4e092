package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
)

// Limits on the shape of a request body, beyond its size (Config.MaxBodyBytes).
// Every body the API takes nests 4 levels at most and no field holds more
// than 4000 characters (domain's longest text, up to 4 bytes each): the
// limits leave room and stop a body built to make the decoder work hard.
const (
	maxJSONDepth  = 16
	maxJSONString = 16 << 10 // bytes of one string, once unescaped
)

// decodeJSON reads the request body into v strictly: JSON media type, one
// object, valid UTF-8, no duplicate or unknown fields (names match exactly,
// not case-insensitively), bounded nesting and strings, no trailing data.
// An empty body decodes as {} when allowEmpty is set (actions with nothing
// to say, like accept-estimate).
func decodeJSON(c *echo.Context, v any, allowEmpty bool) error {
	req := c.Request()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
			return err
		}
		// The error names connections and timeouts: the server's business.
		return badRequest("malformed-json", "could not read the whole body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return badRequest("malformed-json", "the body is empty; a JSON object is required")
	}
	if err := checkMediaType(req.Header.Values(echo.HeaderContentType)); err != nil {
		return err
	}
	return decodeBody(body, v)
}

// checkMediaType accepts a body's Content-Type only when it says JSON in
// UTF-8, the one encoding the API reads: application/json, with no
// parameter but charset=utf-8 (names and values case-insensitive). A body
// without Content-Type, or in another charset, is refused rather than
// guessed at.
func checkMediaType(contentTypes []string) error {
	unsupported := func(detail string) error {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			detail+"; send Content-Type: application/json (or application/json; charset=utf-8)")
	}
	switch len(contentTypes) {
	case 0:
		return unsupported("the body has no Content-Type")
	case 1:
	default:
		return unsupported("the request has more than one Content-Type")
	}
	mediaType, params, err := mime.ParseMediaType(contentTypes[0])
	switch {
	case err != nil:
		return unsupported("the Content-Type is malformed")
	case mediaType != "application/json":
		return unsupported("the body must be application/json, not " + strconv.Quote(truncate(mediaType, 64)))
	}
	for name, value := range params {
		if name != "charset" {
			return unsupported("application/json takes no parameter " + strconv.Quote(truncate(name, 64)))
		}
		if !strings.EqualFold(value, "utf-8") {
			return unsupported("the body must be UTF-8, not charset " + strconv.Quote(truncate(value, 64)))
		}
	}
	return nil
}

// truncate cuts s to at most n bytes, for echoing a caller's text.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// decodeBody is decodeJSON after the body is read: the part the fuzz
// targets drive.
//
// It decodes with the JSON v2 implementation (go-json-experiment/json, the
// code behind Go's encoding/json/v2, which a Go release without
// GOEXPERIMENT=jsonv2 does not have yet): encoding/json matches field
// names case-insensitively, so {"defect":"a","Defect":"b"} would pass a
// duplicate check and silently keep one of the two. The reason is what it
// refuses and how precisely it says so, not speed: with encoding/json's
// decoder (unknown fields disallowed), TestHardenedInputRejected's cases
// "case variant of a field", "number out of range" and "number of 330
// digits" fail. Types' own UnmarshalJSON methods (money, dates) are called
// as before.
func decodeBody(body []byte, v any) error {
	if err := checkJSON(body); err != nil {
		return err
	}
	if err := jsonv2.Unmarshal(body, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return decodeProblem(err)
	}
	return nil
}

// checkJSON checks what decoding into a struct cannot: the encoding and
// the shape of the whole body, before any of it is decoded.
func checkJSON(body []byte) error {
	if !utf8.Valid(body) {
		return badRequest("invalid-utf8", "the body is not valid UTF-8 (at byte %d)", invalidUTF8At(body))
	}
	// Duplicate names and invalid UTF-8 in escapes (a lone surrogate
	// such as "\ud800") are errors by default in jsontext.
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return syntaxProblem(err)
		}
		switch tok.Kind() {
		case '{', '[':
			if dec.StackDepth() > maxJSONDepth {
				return badRequest("too-deep", "the JSON nests more than %d levels deep at %s", maxJSONDepth, fieldName(dec.StackPointer().Parent()))
			}
		case '"':
			if len(tok.String()) > maxJSONString {
				return badRequest("field-too-long", "a string at %s is longer than %d bytes", fieldName(dec.StackPointer()), maxJSONString)
			}
		}
		if dec.StackDepth() == 0 { // the one top-level value is complete
			if _, err := dec.ReadToken(); err != io.EOF {
				return badRequest("malformed-json", "unexpected data after the JSON object")
			}
			return nil
		}
	}
}

// invalidUTF8At is the offset of the first byte that is not UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// syntaxProblem explains a JSON syntax error precisely.
func syntaxProblem(err error) error {
	var syntax *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed-json", "the JSON body ends too early")
	case !errors.As(err, &syntax):
		return badRequest("malformed-json", "malformed JSON")
	case errors.Is(syntax.Err, jsontext.ErrDuplicateName):
		return badRequest("duplicate-field", "field %s appears more than once", fieldName(syntax.JSONPointer))
	case strings.Contains(syntax.Err.Error(), "invalid UTF-8"), strings.Contains(syntax.Err.Error(), "surrogate"):
		return badRequest("invalid-utf8", "the string at %s escapes an invalid UTF-16 surrogate", fieldName(syntax.JSONPointer))
	}
	return badRequest("malformed-json", "malformed JSON at byte %d: %v", syntax.ByteOffset, syntax.Err)
}

// fieldName renders a JSON pointer as the API names fields elsewhere
// ("customer.phone", "items[2].sku"); the body itself is "the top level".
func fieldName(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if isIndex(tok) && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() == 0 {
		return "the top level"
	}
	return fmt.Sprintf("%q", b.String())
}

func isIndex(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// decodeProblem explains a JSON decoding error precisely.
func decodeProblem(err error) error {
	var (
		syntax   *jsontext.SyntacticError
		semantic *jsonv2.SemanticError
		invalid  domain.ValidationErrors
	)
	switch {
	case errors.As(err, &invalid):
		return err
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return syntaxProblem(err) // checkJSON lets none through; kept for safety
	case !errors.As(err, &semantic):
		return newProblem(http.StatusUnprocessableEntity, "validation", "Invalid field values", "the body could not be decoded")
	}
	field := fieldName(semantic.JSONPointer)
	switch {
	case errors.Is(semantic.Err, jsonv2.ErrUnknownName):
		return badRequest("unknown-field", "unknown field %s", field)
	case semantic.Err == nil && semantic.JSONPointer == "":
		return badRequest("wrong-type", "expected a JSON object, got %s", jsonKindName(semantic.JSONKind))
	case semantic.Err == nil, errors.Is(semantic.Err, strconv.ErrRange), errors.Is(semantic.Err, strconv.ErrSyntax):
		want := "of another type"
		if semantic.GoType != nil {
			want = jsonKind(semantic.GoType.Kind().String())
		}
		got := jsonKindName(semantic.JSONKind)
		if semantic.JSONKind == '0' && len(semantic.JSONValue) > 0 && len(semantic.JSONValue) <= 32 {
			got = string(semantic.JSONValue) // 1e400, -1, 2.5: the value says what is wrong
		}
		return badRequest("wrong-type", "field %s must be %s, got %s", field, want, got)
	}
	// Errors from a type's own UnmarshalJSON (money, dates) and numbers
	// out of range are about values.
	return newProblem(http.StatusUnprocessableEntity, "validation", "Invalid field values", fmt.Sprintf("field %s: %v", field, semantic.Err))
}

// jsonKindName names a JSON value's kind.
func jsonKindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "something else"
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "a " + kind
}

// jsonEncode writes v as compact JSON followed by a newline.
func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}
