package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBodyNeedsJSONMediaType: a body is JSON in UTF-8, said so by its
// Content-Type: application/json, alone or with charset=utf-8, in any case.
// Anything else, or none, is 415 and writes nothing; an empty body needs no
// Content-Type.
func TestBodyNeedsJSONMediaType(t *testing.T) {
	ts := newTestServer(t)
	body := mustJSON(t, registerBody())
	send := func(contentTypes []string, body string, path string) response {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ts.keys[RoleAgent])
		if contentTypes != nil {
			req.Header["Content-Type"] = contentTypes
		}
		rec := httptest.NewRecorder()
		ts.echo.ServeHTTP(rec, req)
		return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8", `application/json;charset="utf-8"`} {
		if res := send([]string{ct}, body, "/v1/claims"); res.Code != http.StatusCreated {
			t.Errorf("Content-Type %q: %d %s", ct, res.Code, res.Body)
		}
	}
	for _, cts := range [][]string{
		nil, {""}, {"text/plain"}, {"application/x-www-form-urlencoded"}, {"application/json; charset=latin1"},
		{"application/json; charset=iso-8859-1"}, {"application/json; charset=utf-16"}, {"application/merge-patch+json"},
		{"application/json; version=2"}, {"application/json; charset=utf-8; x=y"}, {"application/json; charset"},
		{"application/json", "application/json"}, {"json"},
	} {
		before := ts.eventCount()
		res := send(cts, body, "/v1/claims")
		if res.Code != http.StatusUnsupportedMediaType || res.json(t)["type"] != "urn:rmaledger:problem:unsupported-media-type" {
			t.Errorf("Content-Type %q: %d %s, want 415", cts, res.Code, res.Body)
		}
		if n := ts.eventCount(); n != before {
			t.Errorf("Content-Type %q: %d events written", cts, n-before)
		}
	}
	// An action with nothing to say needs no Content-Type: here the empty
	// note is refused for what it lacks, not for its media type.
	id := ts.register()
	if res := send(nil, "", "/v1/claims/"+id+"/actions/add-note"); res.Code != http.StatusUnprocessableEntity {
		t.Errorf("empty action body without Content-Type: %d %s, want 422", res.Code, res.Body)
	}
}

// TestIfMatchPresentButEmpty: an If-Match header without a version is
// refused, not taken as absent; the write does not happen.
func TestIfMatchPresentButEmpty(t *testing.T) {
	ts := newTestServer(t)
	id := ts.register()
	note := mustJSON(t, map[string]any{"text": "checked", "visibility": "internal"})
	path := "/v1/claims/" + id + "/actions/add-note"
	send := func(url string, ifMatch []string) int {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(note))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+ts.keys[RoleAgent])
		if ifMatch != nil {
			req.Header["If-Match"] = ifMatch
		}
		if strings.HasPrefix(url, "http") {
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		rec := httptest.NewRecorder()
		ts.echo.ServeHTTP(rec, req)
		return rec.Code
	}
	server := httptest.NewServer(ts.echo)
	defer server.Close()
	for _, tc := range []struct {
		name    string
		ifMatch []string
	}{
		{"empty", []string{""}},
		{"blank", []string{"  "}},
		{"two headers", []string{`"1"`, `"1"`}},
	} {
		before := ts.eventCount()
		for _, target := range []string{path, server.URL + path} {
			if code := send(target, tc.ifMatch); code != http.StatusBadRequest {
				t.Errorf("%s If-Match to %s: %d, want 400", tc.name, target, code)
			}
		}
		if n := ts.eventCount(); n != before {
			t.Errorf("%s If-Match: %d events written", tc.name, n-before)
		}
	}
	// Versions: 1 after registration, one more per note.
	for _, ifMatch := range [][]string{nil, {"*"}, {`"3"`}, {` W/"4" `}} {
		if code := send(path, ifMatch); code != http.StatusOK {
			t.Errorf("If-Match %q: %d, want 200", ifMatch, code)
		}
	}
}

// TestBidiControlsRefusedAtTheAPI: a name holding a bidirectional override
// is a 422 naming the field, and nothing is written.
func TestBidiControlsRefusedAtTheAPI(t *testing.T) {
	ts := newTestServer(t)
	body := registerBody()
	body["customer"].(map[string]any)["name"] = "Ivan \u202eovteP"
	res := ts.do(http.MethodPost, "/v1/claims", RoleAgent, body)
	if res.Code != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `"field":"customer.name"`) {
		t.Errorf("%d %s, want 422 on customer.name", res.Code, res.Body)
	}
	if n := ts.eventCount(); n != 0 {
		t.Errorf("%d events written", n)
	}
}
