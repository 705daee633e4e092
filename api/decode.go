package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/rmaledger/rmaledger/domain"
)

// decodeJSON reads the request body into v strictly: JSON media type, one
// object, no unknown fields, no trailing data. An empty body decodes as {}
// when allowEmpty is set (actions with nothing to say, like accept-estimate).
func decodeJSON(c *echo.Context, v any, allowEmpty bool) error {
	req := c.Request()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
			return err
		}
		return badRequest("malformed-json", "could not read the body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return badRequest("malformed-json", "the body is empty; a JSON object is required")
	}
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || (mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")) {
			return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", "send Content-Type: application/json")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed-json", "unexpected data after the JSON object")
	}
	return nil
}

// decodeProblem explains a JSON decoding error precisely.
func decodeProblem(err error) error {
	var (
		syntax    *json.SyntaxError
		typeError *json.UnmarshalTypeError
		invalid   domain.ValidationErrors
	)
	switch {
	case errors.As(err, &syntax):
		return badRequest("malformed-json", "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed-json", "the JSON body ends too early")
	case errors.As(err, &typeError):
		field := typeError.Field
		if field == "" {
			return badRequest("wrong-type", "expected a JSON object, got %s", typeError.Value)
		}
		return badRequest("wrong-type", "field %q must be %s, got %s", field, jsonKind(typeError.Type.Kind().String()), typeError.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown-field", "%s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &invalid):
		return err
	}
	// Errors from a type's own UnmarshalJSON (money, dates) are about values.
	return newProblem(http.StatusUnprocessableEntity, "validation", "Invalid field values", err.Error())
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
	}
	return "a " + kind
}

// jsonEncode writes v as compact JSON followed by a newline.
func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}
