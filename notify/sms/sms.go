// Package sms sends the customer's text messages through an SMS
// provider's HTTP API: each message is one POST of JSON
//
//	{"to": "+359888123456", "text": "...", "id": "<message id>"}
//
// to the configured URL, with the token as a bearer credential. The id is
// the notify message id, the same for a message sent again after a crash,
// so that the provider (or a gateway before it) can drop a repeat.
//
// A 2xx answer means the provider took the message. 408 and 429 and every
// 5xx answer, and failures to reach the provider, are worth a retry; any
// other 4xx answer (a number refused, a bad token) is notify.Permanent.
package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/rmaledger/rmaledger/notify"
)

// Config is the provider's endpoint.
type Config struct {
	// URL receives the POSTs (required; https, or http for a gateway on
	// the same host).
	URL string
	// Token is sent as "Authorization: Bearer <Token>" (may be empty for a
	// gateway that needs none).
	Token string
	// Client makes the requests (default: an http.Client with Timeout).
	Client *http.Client
	// Timeout bounds one request when Client is not given (default 15s).
	Timeout time.Duration
}

// Sender is the Sender of the notify.SMS channel.
type Sender struct {
	url    string
	token  string
	client *http.Client
}

// New checks the configuration.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("sms: provider URL %q: want an http(s) URL", cfg.URL)
	}
	c := cfg.Client
	if c == nil {
		if cfg.Timeout == 0 {
			cfg.Timeout = 15 * time.Second
		}
		c = &http.Client{Timeout: cfg.Timeout}
	}
	return &Sender{url: cfg.URL, token: cfg.Token, client: c}, nil
}

// payload is the JSON body of a request.
type payload struct {
	To   string `json:"to"`
	Text string `json:"text"`
	ID   string `json:"id"`
}

// Send posts one text message to the provider.
func (s *Sender) Send(ctx context.Context, m notify.Message) error {
	if m.Recipient == "" || m.Text == "" {
		return notify.Permanent(errors.New("sms: the message has no recipient or no text"))
	}
	body, err := json.Marshal(payload{To: m.Recipient, Text: m.Text, ID: m.ID.String()})
	if err != nil {
		return notify.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return notify.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.ID.String())
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("sms: message %s: %w", m.ID, err)
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("sms: message %s: provider answered %s: %s", m.ID, resp.Status, bytes.TrimSpace(detail))
	default:
		return notify.Permanent(fmt.Errorf("sms: message %s: provider refused it, %s: %s", m.ID, resp.Status, bytes.TrimSpace(detail)))
	}
}
