package sms_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/notify/sms"
)

// TestSend: the provider receives the number, the text and the id with
// the bearer token, and its answer decides what the outbox does next.
func TestSend(t *testing.T) {
	var (
		mu     sync.Mutex
		got    []map[string]string
		status = http.StatusAccepted
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok-1" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusUnauthorized)
			return
		}
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, body)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	s, err := sms.New(sms.Config{URL: srv.URL, Token: "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	m := notify.Message{ID: uuid.New(), Channel: notify.SMS, Recipient: "+359888123456", Text: "Acme: заявка RMA-1 одобрена."}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["to"] != m.Recipient || got[0]["text"] != m.Text || got[0]["id"] != m.ID.String() {
		t.Fatalf("the provider received %v", got)
	}
	for _, tc := range []struct {
		status    int
		permanent bool
	}{
		{http.StatusOK, false}, {http.StatusBadRequest, true}, {http.StatusForbidden, true}, {http.StatusUnprocessableEntity, true},
		{http.StatusRequestTimeout, false}, {http.StatusTooManyRequests, false}, {http.StatusInternalServerError, false}, {http.StatusBadGateway, false},
	} {
		status = tc.status
		err := s.Send(context.Background(), m)
		if tc.status < 300 {
			if err != nil {
				t.Errorf("%d: %v", tc.status, err)
			}
			continue
		}
		if err == nil || notify.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), http.StatusText(tc.status)) {
			t.Errorf("%d: %v, want permanent %v", tc.status, err, tc.permanent)
		}
	}
	wrongToken, _ := sms.New(sms.Config{URL: srv.URL, Token: "nope"})
	if err := wrongToken.Send(context.Background(), m); !notify.IsPermanent(err) {
		t.Errorf("a refused token: %v, want permanent", err)
	}
	srv.Close()
	if err := s.Send(context.Background(), m); err == nil || notify.IsPermanent(err) {
		t.Errorf("provider unreachable: %v, want an error worth a retry", err)
	}
	if _, err := sms.New(sms.Config{URL: "ftp://x"}); err == nil {
		t.Error("an ftp URL was accepted")
	}
}
