// Command webhook-receiver is an example receiver of RMA Ledger's webhooks.
// It checks each request's Standard Webhooks signature with the reference
// library, drops a message it already handled (a retry or a replay sends
// the same webhook-id), and prints the event:
//
//	WEBHOOK_SECRET=whsec_... go run ./examples/webhook-receiver --listen 127.0.0.1:9099
//
// A real receiver keeps the ids it handled in its database, with what it
// did, in one transaction.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9099", "address to listen on")
	flag.Parse()
	hook, err := standardwebhooks.NewWebhook(os.Getenv("WEBHOOK_SECRET"))
	if err != nil {
		log.Fatalf("WEBHOOK_SECRET: %v", err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	http.HandleFunc("POST /hooks", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		// The signature covers webhook-id, webhook-timestamp and the body;
		// a timestamp more than five minutes off is refused too.
		if err := hook.Verify(body, r.Header); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get("webhook-id")
		if seen[id] {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		seen[id] = true
		var event struct {
			Type string `json:"type"`
			Data struct {
				Number string `json:"number"`
				Status string `json:"status"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		fmt.Printf("%s %s %s\n", event.Type, event.Data.Number, event.Data.Status)
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
