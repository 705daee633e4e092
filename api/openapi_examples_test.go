package api

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/rmaledger/rmaledger/audit"
	"github.com/rmaledger/rmaledger/domain"
	"github.com/rmaledger/rmaledger/eventstore/embedded"
	"github.com/rmaledger/rmaledger/files"
	"github.com/rmaledger/rmaledger/ledger"
	"github.com/rmaledger/rmaledger/policy"
	"github.com/rmaledger/rmaledger/privacy"
	"github.com/rmaledger/rmaledger/projections"
)

// examplesDay is when the document's examples are set: their dates (the
// purchase, the act of unrepairability) are in the past then and the laptop
// is under warranty. The service under test decides at this time, so the
// examples stay valid whenever the tests run.
var examplesDay = time.Date(2026, 3, 10, 10, 0, 0, 0, time.FixedZone("EET", 2*60*60))

// requestExample is one example request body of the OpenAPI document, with
// what it must satisfy.
type requestExample struct {
	method, path string
	// name is the example's name in the media type's examples (an action,
	// on the action route), or empty for a media type's single example.
	name      string
	mediaType string
	value     any
	// schema is the example's own schema: on the action route the one
	// whose x-actions lists the action, else the media type's.
	schema *openapi3.Schema
	// success is the operation's one documented 2xx status.
	success int
	route   *routers.Route
}

func (ex requestExample) String() string {
	s := ex.method + " " + ex.path
	if ex.name != "" {
		s += " example " + ex.name
	}
	return s
}

// loadOpenAPI loads the served document with kin-openapi and validates it,
// every example against its media type's schema included.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// requestExamples walks every operation with a request body and returns its
// examples, keyed by requestExample.String. It fails the test for a request
// body without an example, an action without one, an example that is not
// valid against its own schema, and an operation without one 2xx answer.
func requestExamples(t *testing.T, doc *openapi3.T) map[string]requestExample {
	t.Helper()
	out := map[string]requestExample{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			success := successStatus(t, method, path, op)
			actions := actionEnum(item, op)
			for mediaType, media := range op.RequestBody.Value.Content {
				if media.Example == nil && len(media.Examples) == 0 {
					t.Errorf("%s %s: the %s request body has no example", method, path, mediaType)
					continue
				}
				add := func(name string, value any) {
					schema := ownSchema(t, method, path, media, name, actions)
					ex := requestExample{method: method, path: path, name: name, mediaType: mediaType, value: value, schema: schema, success: success, route: route}
					if schema != nil {
						if err := schema.VisitJSON(value); err != nil {
							t.Errorf("%s does not match its schema: %v", ex, err)
						}
					}
					out[ex.String()] = ex
				}
				if media.Example != nil {
					add("", media.Example)
				}
				for name, ref := range media.Examples {
					add(name, ref.Value.Value)
				}
				for _, action := range actions {
					if _, ok := media.Examples[action]; !ok {
						t.Errorf("%s %s: action %s has no example", method, path, action)
					}
				}
			}
		}
	}
	return out
}

// successStatus is the operation's one documented 2xx status.
func successStatus(t *testing.T, method, path string, op *openapi3.Operation) int {
	t.Helper()
	var codes []int
	for code := range op.Responses.Map() {
		if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 {
			codes = append(codes, n)
		}
	}
	if len(codes) != 1 {
		t.Errorf("%s %s documents the success statuses %v, want exactly one", method, path, codes)
		return 0
	}
	return codes[0]
}

// actionEnum lists the values of the operation's action path parameter, if
// it has one: each needs an example of its own.
func actionEnum(item *openapi3.PathItem, op *openapi3.Operation) []string {
	var out []string
	for _, params := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		if p := params.GetByInAndName(openapi3.ParameterInPath, "action"); p != nil {
			for _, v := range p.Schema.Value.Enum {
				out = append(out, v.(string))
			}
		}
	}
	return out
}

// ownSchema is the schema an example must match: on an operation with an
// action parameter, the member of the body's anyOf whose x-actions lists
// the example's name (exactly one); elsewhere the media type's schema.
func ownSchema(t *testing.T, method, path string, media *openapi3.MediaType, name string, actions []string) *openapi3.Schema {
	t.Helper()
	if media.Schema == nil {
		t.Errorf("%s %s: the request body has no schema", method, path)
		return nil
	}
	if len(actions) == 0 {
		return media.Schema.Value
	}
	if !slices.Contains(actions, name) {
		t.Errorf("%s %s: example %q is named after no action", method, path, name)
		return nil
	}
	var found []*openapi3.SchemaRef
	for _, member := range media.Schema.Value.AnyOf {
		listed, _ := member.Value.Extensions["x-actions"].([]any)
		if slices.Contains(listed, any(name)) {
			found = append(found, member)
		}
	}
	if len(found) != 1 {
		t.Errorf("%s %s: %d schemas of the body list action %s in x-actions, want 1", method, path, len(found), name)
		return nil
	}
	return found[0].Value
}

// exampleClock is the write side's clock: examplesDay, a minute later at
// every decision.
type exampleClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *exampleClock) next() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Minute)
	return c.now
}

// newExampleServer wires the API as the service does: the default policy,
// personal data sealed in the events and revealed to the read models, a
// signing key for checkpoints; its write side decides at examplesDay.
func newExampleServer(t *testing.T) *testServer {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	keyStore, err := privacy.OpenSQLite(filepath.Join(dir, privacy.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keyStore.Close() })
	codec := privacy.NewCodec(keyStore)
	policies := policy.Default()
	clock := &exampleClock{now: examplesDay}
	service, err := ledger.New(store, ledger.Config{Policies: policies, Privacy: codec, Clock: clock.next})
	if err != nil {
		t.Fatal(err)
	}
	reads, err := projections.New(privacy.Reveal(store, codec, nil), projections.Config{Dir: dir, Logger: logger, Policies: policies})
	if err != nil {
		t.Fatal(err)
	}
	if err := reads.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reads.Close() })
	key, err := audit.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	checkpointer, err := audit.NewCheckpointer(store, audit.CheckpointerConfig{Signer: audit.NewSigner(key), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, store: store, keys: map[Role]string{}}
	keys := &Keys{}
	for _, role := range Roles() {
		ts.keys[role] = "example-key-for-" + string(role)
		if err := keys.Add(role, ts.keys[role]); err != nil {
			t.Fatal(err)
		}
	}
	blobs, err := files.NewDirStore(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	claimFiles, err := files.NewService(files.Config{Claims: service, Blobs: blobs, Privacy: codec})
	if err != nil {
		t.Fatal(err)
	}
	ts.echo, err = New(Config{
		Ledger: service, Reads: reads, Keys: keys, Logger: logger, ReadYourWritesTimeout: 5 * time.Second,
		Audit: AuditConfig{Checkpointer: checkpointer, Keys: checkpointer.Keys(), DensePositions: true, Files: blobs},
		Files: claimFiles,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// postExample sends an example as the document describes it (its media type, the
// path filled with params) after checking the request against the document
// with kin-openapi's request validator.
func (ts *testServer) postExample(ex requestExample, params map[string]string, value any) response {
	ts.t.Helper()
	err := openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: ts.exampleRequest(ex, params, value), PathParams: params, Route: ex.route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	})
	if err != nil {
		ts.t.Errorf("%s: the request does not match the document: %v", ex, err)
	}
	return ts.postExampleUnchecked(ex, params, value)
}

// exampleRequest is the request that posts value as ex says: its media
// type, the path filled with params, with an admin's key.
func (ts *testServer) exampleRequest(ex requestExample, params map[string]string, value any) *http.Request {
	ts.t.Helper()
	target := ex.path
	for name, v := range params {
		target = strings.ReplaceAll(target, "{"+name+"}", v)
	}
	var body []byte
	contentType := ex.mediaType
	if ex.mediaType == "multipart/form-data" {
		body, contentType = encodeMultipart(ts.t, value.(map[string]any))
	} else {
		body = encodeExample(ts.t, ex.mediaType, value)
	}
	req := httptest.NewRequest(ex.method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+ts.keys[RoleAdmin])
	return req
}

// encodeMultipart renders a multipart/form-data example: "file" as a file
// part, every other property as a field.
func encodeMultipart(t *testing.T, value map[string]any) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range value {
		var err error
		if k == "file" {
			var part io.Writer
			if part, err = w.CreateFormFile("file", "example"); err == nil {
				_, err = io.WriteString(part, fmt.Sprint(v))
			}
		} else {
			err = w.WriteField(k, fmt.Sprint(v))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

// encodeExample renders an example value in its media type.
func encodeExample(t *testing.T, mediaType string, value any) []byte {
	t.Helper()
	switch mediaType {
	case "application/json":
		b, err := json.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		return b
	case "application/x-www-form-urlencoded":
		form := url.Values{}
		for k, v := range value.(map[string]any) {
			form.Set(k, fmt.Sprint(v))
		}
		return []byte(form.Encode())
	}
	t.Fatalf("no encoding for %s", mediaType)
	return nil
}

// exampleIntake takes a claim from registered to diagnosed, with the
// documents the authorization asks for received before the goods.
var exampleIntake = []string{"authorize", "receive-documents", "record-customer-shipment", "receive", "diagnose"}

// exampleClaims are the claims TestOpenAPIRequestExamplesAreAccepted takes
// through the lifecycle, one per path a claim can take, each step in an
// order the claim allows, with the document's example for that action.
var exampleClaims = []struct {
	name    string
	actions []string
}{
	{"repaired with paid extras, appealed and delivered", slices.Concat(
		[]string{"add-note", "assign", "put-on-hold", "release-hold"}, exampleIntake,
		[]string{"issue-estimate", "accept-estimate", "record-payment", "start-repair", "claim-supplier-recovery", "record-supplier-recovery", "complete-repair"},
		[]string{"open-dispute", "resolve-dispute", "ship-return", "confirm-delivery", "close"})},
	{"redirected, act of unrepairability, rejected", []string{"redirect-to-service-center", "record-unrepairability-act", "reject"}},
	{"withdrawn", []string{"withdraw"}},
	{"resolved remotely, report confirmed, closed", []string{"resolve-remotely", "confirm-service-report", "close"}},
	{"refunded, payment and part of the approval reversed", slices.Concat(exampleIntake, []string{"approve-refund", "record-refund-payment", "reverse-refund-payment", "reverse-refund-approval"})},
	{"credit note issued and cancelled", slices.Concat(exampleIntake, []string{"issue-credit-note", "cancel-credit-note"})},
	{"estimate declined", slices.Concat(exampleIntake, []string{"issue-estimate", "decline-estimate"})},
	{"payment charged back, returned unrepaired", slices.Concat(exampleIntake, []string{"issue-estimate", "accept-estimate", "record-payment", "reverse-payment", "return-unrepaired"})},
	{"replaced", slices.Concat(exampleIntake, []string{"replace"})},
}

const (
	registerExampleKey = "POST /v1/claims"
	actionExampleKey   = "POST /v1/claims/{id}/actions/{action}"
)

// TestOpenAPIRequestExamplesAreAccepted posts every request example of the
// document to the service and expects the documented success status: a
// registration, then each action on claims that allow it, the public status
// form, a checkpoint and an erasure. Every example must be posted.
func TestOpenAPIRequestExamplesAreAccepted(t *testing.T) {
	examples := requestExamples(t, loadOpenAPI(t))
	ts := newExampleServer(t)
	posted := map[string]bool{}
	send := func(key string, params map[string]string, change func(map[string]any)) map[string]any {
		t.Helper()
		ex, ok := examples[key]
		if !ok {
			t.Fatalf("the document has no example %s", key)
		}
		value := ex.value
		if change != nil {
			value = cloneExample(t, value)
			change(value.(map[string]any))
		}
		posted[key] = true
		res := ts.postExample(ex, params, value)
		if res.Code != ex.success {
			t.Fatalf("%s: %d, documented %d\n%s", ex, res.Code, ex.success, res.Body)
		}
		if ex.mediaType != "application/json" {
			return nil
		}
		return res.json(t)
	}

	var first map[string]any
	for _, c := range exampleClaims {
		claim := send(registerExampleKey, nil, nil)
		if first == nil {
			first = claim
		}
		id := claim["id"].(string)
		for _, action := range c.actions {
			claim = send(actionExampleKey+" example "+action, map[string]string{"id": id, "action": action}, nil)
		}
		t.Logf("%s: %s after %d actions", c.name, claim["status"], len(c.actions))
	}

	// The status form looks up the first claim by the number the service
	// gave it and the phone in the form's example, once the read models
	// have it.
	id, number := first["id"].(string), first["number"].(string)
	if res := ts.do(http.MethodGet, "/v1/claims/"+id+"?min_position="+url.QueryEscape(first["position"].(string)), RoleAdmin, nil); res.Code != http.StatusOK {
		t.Fatalf("reading the first claim: %d %s", res.Code, res.Body)
	}
	send("POST /status", nil, func(form map[string]any) { form["number"] = number })
	send("POST /v1/claims/{id}/files", map[string]string{"id": id}, nil)
	send("POST /v1/audit/checkpoints", nil, nil)
	send("POST /v1/customers/{id}/erase", map[string]string{"id": first["customer_id"].(string)}, nil)
	postClockExamples(t, examples, posted)
	postPaymentExamples(t, examples, posted)
	postWebhookExamples(t, examples, posted)

	var unposted []string
	for key := range examples {
		if !posted[key] {
			unposted = append(unposted, key)
		}
	}
	slices.Sort(unposted)
	for _, key := range unposted {
		t.Errorf("%s is never posted: add it to the test's scenario", key)
	}
}

// cloneExample deep-copies a decoded JSON value.
func cloneExample(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenAPISchemasStateTheServiceRules changes the document's examples to
// break, or to meet the other way, each rule the schemas state beyond a
// plain required field (either/or fields, fields that depend on another,
// codes, amounts, no unknown fields), and checks that the schema and the
// service agree: what the schema refuses, the service refuses (with no
// event written), and what the schema accepts, it accepts.
func TestOpenAPISchemasStateTheServiceRules(t *testing.T) {
	examples := requestExamples(t, loadOpenAPI(t))
	ts := newExampleServer(t)
	claimID := ts.postExample(examples[registerExampleKey], nil, examples[registerExampleKey].value).json(t)["id"].(string)

	without := func(path ...string) func(map[string]any) {
		return func(m map[string]any) {
			for _, key := range path[:len(path)-1] {
				m = m[key].(map[string]any)
			}
			delete(m, path[len(path)-1])
		}
	}
	set := func(value any, path ...string) func(map[string]any) {
		return func(m map[string]any) {
			for _, key := range path[:len(path)-1] {
				m = m[key].(map[string]any)
			}
			m[path[len(path)-1]] = value
		}
	}
	both := func(changes ...func(map[string]any)) func(map[string]any) {
		return func(m map[string]any) {
			for _, c := range changes {
				c(m)
			}
		}
	}
	extended := map[string]any{"kind": "extended", "reference": "EW-2025-77120", "purchased_on": "2025-11-14"}
	withMonths := map[string]any{"kind": "extended", "reference": "EW-2025-77120", "purchased_on": "2025-11-14", "months": 36}

	for _, tc := range []struct {
		rule    string
		action  string // empty: the registration
		change  func(map[string]any)
		refused int // the service's status when the schema refuses; 0: both accept
	}{
		{"a serial or an IMEI: neither", "", without("product", "serial"), http.StatusUnprocessableEntity},
		{"a serial or an IMEI: an empty serial", "", set("", "product", "serial"), http.StatusUnprocessableEntity},
		{"a serial or an IMEI: the IMEI alone", "", both(without("product", "serial"), set("35-693803-564380-9", "product", "imei")), 0},
		{"an extended warranty needs months: none", "", set([]any{extended}, "coverages"), http.StatusUnprocessableEntity},
		{"an extended warranty needs months: given", "", set([]any{withMonths}, "coverages"), 0},
		{"a post-warranty certificate needs no months", "", set([]any{map[string]any{"kind": "post_warranty", "reference": "PW-2026-0031", "purchased_on": "2026-01-05"}}, "coverages"), 0},
		{"the category is a code", "", set("Laptop", "product", "category"), http.StatusUnprocessableEntity},
		{"an amount has no leading zero", "", set("01299.90", "price", "amount"), http.StatusUnprocessableEntity},
		{"no unknown field", "", set("fragile", "notes"), http.StatusBadRequest},
		{"no unknown field in an object", "", set("EUR", "product", "currency"), http.StatusBadRequest},
		{"a redirection names the country", "redirect-to-service-center", without("service_center", "country"), http.StatusUnprocessableEntity},
		{"an authorization names the address", "authorize", without("service_center", "address"), http.StatusUnprocessableEntity},
		{"a customer's shipment has a tracking number", "record-customer-shipment", without("tracking_number"), http.StatusUnprocessableEntity},
		{"a void warranty has a reason: none", "diagnose", set("warranty_void", "outcome"), http.StatusUnprocessableEntity},
		{"a void warranty has a reason: given", "diagnose", both(set("warranty_void", "outcome"), set("liquid_damage", "void_reason_code")), 0},
		{"only a void warranty has a reason", "diagnose", set("liquid_damage", "void_reason_code"), http.StatusUnprocessableEntity},
		{"an estimate has an amount: none", "issue-estimate", both(without("parts"), without("labour")), http.StatusUnprocessableEntity},
		{"an estimate has an amount: shipping alone", "issue-estimate", both(without("parts"), without("labour"), set(map[string]any{"amount": "6.00", "currency": "EUR"}, "shipping")), 0},
		{"a reason code is a code", "reject", set("Serial mismatch", "reason_code"), http.StatusUnprocessableEntity},
		{"a return needs no tracking number", "ship-return", without("tracking_number"), 0},
	} {
		func() {
			key, params := registerExampleKey, map[string]string(nil)
			if tc.action != "" {
				key, params = actionExampleKey+" example "+tc.action, map[string]string{"id": claimID, "action": tc.action}
			}
			ex, ok := examples[key]
			if !ok {
				t.Fatalf("%s: the document has no example %s", tc.rule, key)
			}
			value := cloneExample(t, ex.value)
			tc.change(value.(map[string]any))
			schemaErr := ex.schema.VisitJSON(value)
			if tc.refused == 0 {
				if schemaErr != nil {
					t.Errorf("%s: the schema refuses it: %v", tc.rule, schemaErr)
				} else if tc.action == "" { // an action's acceptance depends on the claim's state
					if res := ts.postExample(ex, params, value); res.Code != ex.success {
						t.Errorf("%s: the schema accepts it, the service answers %d %s", tc.rule, res.Code, res.Body)
					}
				}
				return
			}
			if schemaErr == nil {
				t.Errorf("%s: the schema accepts what the service refuses", tc.rule)
			}
			before := ts.eventCount()
			res := ts.postExampleUnchecked(ex, params, value)
			if res.Code != tc.refused || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: the service answers %d %s %s, want %d", tc.rule, res.Code, res.Header.Get("Content-Type"), res.Body, tc.refused)
			}
			if after := ts.eventCount(); after != before {
				t.Errorf("%s: %d events written", tc.rule, after-before)
			}
		}()
	}
}

// postExampleUnchecked sends an example without checking it against the document:
// the test means it to break a rule.
func (ts *testServer) postExampleUnchecked(ex requestExample, params map[string]string, value any) response {
	ts.t.Helper()
	rec := httptest.NewRecorder()
	ts.echo.ServeHTTP(rec, ts.exampleRequest(ex, params, value))
	return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// TestOpenAPISchemasListTheDecodedFields checks that each request schema
// lists exactly the fields the service decodes, nested objects included:
// the schemas refuse other fields, as the service does.
func TestOpenAPISchemasListTheDecodedFields(t *testing.T) {
	examples := requestExamples(t, loadOpenAPI(t))
	checked := 0
	for _, ex := range examples {
		var action domain.Action
		switch {
		case ex.String() == registerExampleKey:
			action = domain.ActionRegister
		case strings.HasPrefix(ex.String(), actionExampleKey+" example "):
			action = domain.Action(ex.name)
		default:
			continue // bodies that take no fields: the schema says so, and the examples are {}
		}
		cmd, ok := domain.NewCommand(action)
		if !ok {
			t.Errorf("%s: no command for %s", ex, action)
			continue
		}
		compareSchemaFields(t, ex.String(), "", reflect.TypeOf(cmd), ex.schema)
		checked++
	}
	if want := len(domain.Actions()) + 1; checked != want {
		t.Errorf("checked %d request schemas, want %d (the registration and every action)", checked, want)
	}
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// compareSchemaFields reports the JSON fields of Go type typ that schema does not
// list and the properties it lists that typ does not have, then compares
// the nested objects the same way. Types that decode themselves (money,
// dates, times) are values, not objects, here.
func compareSchemaFields(t *testing.T, where, prefix string, typ reflect.Type, schema *openapi3.Schema) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	props := schemaProperties(schema)
	fields := map[string]reflect.Type{}
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	for name, ftype := range fields {
		prop, ok := props[name]
		if !ok {
			t.Errorf("%s: the service takes %s%s, which the schema does not list", where, prefix, name)
			continue
		}
		elem := ftype
		for elem.Kind() == reflect.Pointer || elem.Kind() == reflect.Slice {
			elem = elem.Elem()
			if prop.Items != nil {
				prop = prop.Items.Value
			}
		}
		if elem.Kind() == reflect.Struct && !reflect.PointerTo(elem).Implements(jsonUnmarshalerType) && !reflect.PointerTo(elem).Implements(textUnmarshalerType) {
			compareSchemaFields(t, where, prefix+name+".", elem, prop)
		}
	}
	for name := range props {
		if _, ok := fields[name]; !ok {
			t.Errorf("%s: the schema lists %s%s, which the service does not take", where, prefix, name)
		}
	}
}

// schemaProperties are the properties a schema lists itself or through
// allOf.
func schemaProperties(s *openapi3.Schema) map[string]*openapi3.Schema {
	out := map[string]*openapi3.Schema{}
	for name, p := range s.Properties {
		out[name] = p.Value
	}
	for _, member := range s.AllOf {
		for name, p := range schemaProperties(member.Value) {
			if _, ok := out[name]; !ok {
				out[name] = p
			}
		}
	}
	return out
}
