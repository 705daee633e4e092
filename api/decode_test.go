package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
)

// TestHardenedInputRejected sends bodies built to slip past a lenient
// decoder to registration and to an action: each gets a precise problem
// and writes nothing.
func TestHardenedInputRejected(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	valid, _ := json.Marshal(registerBody())
	// withField puts raw JSON members at the front of the valid
	// registration, so that only the member under test is wrong.
	withField := func(members string) string { return "{" + members + "," + string(valid[1:]) }
	deep := `{"customer":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`
	cases := []struct {
		name, path, body string
		status           int
		slug, detail     string
	}{
		{"duplicate field", "/v1/claims", withField(`"defect":"screen cracked"`), 400, "duplicate-field", `"defect"`},
		{"duplicate nested field", "/v1/claims", strings.Replace(string(valid), `"name":"Ivan Petrov"`, `"name":"Ivan Petrov","name":"Someone Else"`, 1), 400, "duplicate-field", `"customer.name"`},
		{"case variant of a field", "/v1/claims", withField(`"Defect":"screen cracked"`), 400, "unknown-field", `"Defect"`},
		{"nested too deep", "/v1/claims", deep, 400, "too-deep", "16 levels"},
		{"invalid UTF-8", "/v1/claims", strings.Replace(string(valid), "does not power on", "does not \xff\xfe power on", 1), 400, "invalid-utf8", "byte"},
		{"lone surrogate escape", "/v1/claims", strings.Replace(string(valid), "does not power on", `does not \ud800 power on`, 1), 400, "invalid-utf8", `"defect"`},
		{"string too long", "/v1/claims", strings.Replace(string(valid), "does not power on", strings.Repeat("ж", 9000), 1), 400, "field-too-long", `"defect"`},
		{"text over its field's limit", "/v1/claims", strings.Replace(string(valid), "does not power on", strings.Repeat("ж", 4001), 1), 422, "validation", "defect"},
		{"control character in a line", "/v1/claims", strings.Replace(string(valid), "Ivan Petrov", `Ivan\u0000Petrov`, 1), 422, "validation", "customer.name"},
		{"bad e-mail", "/v1/claims", strings.Replace(string(valid), "ivan@example.com", "ivan@", 1), 422, "validation", "customer.email"},
		{"bad phone", "/v1/claims", strings.Replace(string(valid), "+7 916 123-45-67", "call me", 1), 422, "validation", "customer.phone"},
		{"trailing data", "/v1/claims", string(valid) + ` {"defect":"x"}`, 400, "malformed-json", "after the JSON object"},
		{"number out of range", "/v1/claims", withField(`"coverages":[{"kind":"extended","reference":"X","purchased_on":"2023-01-10","months":1e400}]`), 400, "wrong-type", "1e400"},
		{"number of 330 digits", "/v1/claims", withField(`"coverages":[{"kind":"extended","reference":"X","purchased_on":"2023-01-10","months":` + strings.Repeat("3", 330) + `}]`), 400, "wrong-type", `"coverages[0].months" must be an integer, got a number`},
		{"action: duplicate field", "/v1/claims/" + id + "/actions/add-note", `{"text":"a","text":"b"}`, 400, "duplicate-field", `"text"`},
		{"action: deep", "/v1/claims/" + id + "/actions/add-note", `{"text":` + strings.Repeat(`{"a":`, 30) + `1` + strings.Repeat(`}`, 31), 400, "too-deep", "levels"},
		{"action: invalid UTF-8", "/v1/claims/" + id + "/actions/add-note", "{\"text\":\"\xc3\x28\"}", 400, "invalid-utf8", "byte 9"},
		{"action: oversize", "/v1/claims/" + id + "/actions/add-note", `{"text":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body-too-large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.eventCount()
			res := ts.do(http.MethodPost, tc.path, RoleAgent, tc.body)
			if res.Code != tc.status {
				t.Fatalf("status %d, want %d\n%s", res.Code, tc.status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			p := res.json(t)
			if p["type"] != "urn:rmaledger:problem:"+tc.slug {
				t.Errorf("type %v, want %s\n%s", p["type"], tc.slug, res.Body)
			}
			if detail, _ := p["detail"].(string); !strings.Contains(detail+string(res.Body), tc.detail) {
				t.Errorf("the answer does not say %q:\n%s", tc.detail, res.Body)
			}
			if p["request_id"] == "" || p["request_id"] != res.Header.Get(echo.HeaderXRequestID) {
				t.Errorf("request_id %v, header %q", p["request_id"], res.Header.Get(echo.HeaderXRequestID))
			}
			if n := ts.eventCount(); n != before {
				t.Errorf("%d events written", n-before)
			}
		})
	}
}

// The e-mail is stored with its domain in lower case (the local part is
// the mailbox owner's business), the phone in E.164.
func TestContactsNormalised(t *testing.T) {
	ts := newTestServer(t)
	body := registerBody()
	body["customer"].(map[string]any)["email"] = "  Ivan.Petrov@Example.COM "
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusCreated {
		t.Fatalf("%d %s", res.Code, res.Body)
	}
	customer := res.json(t)["customer"].(map[string]any)
	if customer["email"] != "Ivan.Petrov@example.com" || customer["phone"] != "+79161234567" {
		t.Errorf("stored contacts %v", customer)
	}
}

// A panic and an internal error answer a bare 500 problem: no stack, no
// error text, only the request id to quote to the operator.
func TestInternalErrorsLeakNothing(t *testing.T) {
	ts := newTestServer(t)
	ts.echo.GET("/test/boom", func(*echo.Context) error { panic("secret: /var/lib/rmaledger/events.db is corrupt") })
	ts.echo.GET("/test/error", func(*echo.Context) error {
		return &json.UnsupportedValueError{Str: "secret internal detail"}
	})
	for _, path := range []string{"/test/boom", "/test/error"} {
		res := ts.do(http.MethodGet, path, "", nil)
		if res.Code != http.StatusInternalServerError {
			t.Fatalf("%s: %d", path, res.Code)
		}
		body := string(res.Body)
		for _, leak := range []string{"secret", "goroutine", ".go:", "panic"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: the body leaks %q:\n%s", path, leak, body)
			}
		}
		if p := res.json(t); p["type"] != "urn:rmaledger:problem:internal" || p["request_id"] == "" {
			t.Errorf("%s: %s", path, body)
		}
	}
}
