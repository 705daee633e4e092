package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rmaledger/rmaledger/notify"
)

// SenderConfig configures a Sender. Zero fields take the defaults noted.
type SenderConfig struct {
	// Registry gives each message's subscription: its URL and secrets
	// (required).
	Registry *Registry
	// Timeout bounds one delivery, connection to last byte (default 10s).
	Timeout time.Duration
	// AllowLoopbackHTTP lets http:// URLs reach the loopback interface
	// (serve --dev); every other http:// URL is refused.
	AllowLoopbackHTTP bool
	// AllowedNetworks are private networks an admin lets webhooks reach
	// (a partner's VPN range); every other private, loopback, link-local,
	// shared (CGNAT), metadata or otherwise special address is refused at
	// the moment of connecting, after DNS.
	AllowedNetworks []netip.Prefix
	// RootCAs are the certificate authorities receivers are trusted by
	// (default: the system's).
	RootCAs *x509.CertPool
	// Resolver looks up receivers' names (default: the system's).
	Resolver *net.Resolver
	// UserAgent is sent with every request (default "rmaledger-webhooks/1").
	UserAgent string
	// Now is the clock of the webhook-timestamp header (default time.Now).
	Now func() time.Time
}

// Sender POSTs webhook messages to their subscriptions' URLs, signed with
// the Standard Webhooks scheme. It implements notify.Sender.
//
// A 2xx answer is a delivery. Redirects are never followed: a 3xx is a
// permanent failure (the receiver's URL is wrong; an admin fixes it and
// replays). 410 Gone is permanent and disables the subscription, as the
// Standard Webhooks specification advises. Any other 4xx except 408 and
// 429 is permanent; 408, 429, 5xx and network failures are retried by the
// outbox. An address refused by the SSRF guard is permanent.
type Sender struct {
	cfg       SenderConfig
	client    *http.Client // https, any public address or an allowed network
	devClient *http.Client // http, loopback only
}

// NewSender returns a Sender.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Registry == nil {
		return nil, errors.New("webhooks: SenderConfig.Registry is required")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("webhooks: Timeout must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "rmaledger-webhooks/1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var v4, v6 []netip.Prefix
	for _, p := range cfg.AllowedNetworks {
		if !p.IsValid() {
			return nil, fmt.Errorf("webhooks: allowed network %v is not valid", p)
		}
		if p.Addr().Is4() {
			v4 = append(v4, p.Masked())
		} else {
			v6 = append(v6, p.Masked())
		}
	}
	guard := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
	s := &Sender{cfg: cfg, client: cfg.client(guard.Safe)}
	if cfg.AllowLoopbackHTTP {
		s.devClient = cfg.client(loopbackOnly)
	}
	return s, nil
}

// loopbackOnly is the dial check of plain-http deliveries in development.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("%w: http:// may reach only the loopback interface, not %s", ssrf.ErrProhibitedIP, address)
	}
	return nil
}

// client returns an HTTP client whose every connection is checked by
// control against the address actually dialled, that uses no proxy (a
// proxy would dial for it), and that follows no redirect.
func (cfg SenderConfig) client(control func(network, address string, c syscall.RawConn) error) *http.Client {
	dialer := &net.Dialer{Timeout: cfg.Timeout, Resolver: cfg.Resolver, Control: control}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// StatusError is a receiver's answer other than 2xx.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webhooks: the receiver answered %d %s", e.Code, http.StatusText(e.Code))
}

// Send implements notify.Sender.
func (s *Sender) Send(ctx context.Context, m notify.Message) error {
	id, err := uuid.Parse(m.Recipient)
	if err != nil {
		return notify.Permanent(fmt.Errorf("webhooks: recipient %q is not a subscription id", m.Recipient))
	}
	now := s.cfg.Now()
	t, err := s.cfg.Registry.target(ctx, id, now)
	switch {
	case errors.Is(err, ErrNotFound):
		return notify.Permanent(fmt.Errorf("webhooks: subscription %s: %w", id, err))
	case err != nil:
		return err
	case !t.enabled:
		return notify.Permanent(fmt.Errorf("webhooks: subscription %s is disabled", id))
	case len(t.secrets) == 0:
		return notify.Permanent(fmt.Errorf("webhooks: subscription %s has no secret", id))
	}
	client := s.client
	if u, err := url.Parse(t.url); err != nil {
		return notify.Permanent(fmt.Errorf("webhooks: subscription %s: URL: %w", id, err))
	} else if u.Scheme != "https" {
		if s.devClient == nil || u.Scheme != "http" {
			return notify.Permanent(fmt.Errorf("webhooks: subscription %s: only https URLs are delivered to", id))
		}
		client = s.devClient
	}
	signature, err := sign(t.secrets, m.ID.String(), now, m.Body)
	if err != nil {
		return notify.Permanent(fmt.Errorf("webhooks: subscription %s: %w", id, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(m.Body))
	if err != nil {
		return notify.Permanent(fmt.Errorf("webhooks: subscription %s: %w", id, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set(standardwebhooks.HeaderWebhookID, m.ID.String())
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, signature)
	resp, err := client.Do(req)
	if err != nil {
		if isRefusedAddress(err) {
			return notify.Permanent(fmt.Errorf("webhooks: subscription %s: address refused: %w", id, err))
		}
		return fmt.Errorf("webhooks: subscription %s: %w", id, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	return s.outcome(ctx, id, resp.StatusCode)
}

// outcome maps the receiver's status to a delivery, a retry or a
// permanent failure.
func (s *Sender) outcome(ctx context.Context, id uuid.UUID, code int) error {
	err := &StatusError{Code: code}
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusGone:
		reason := "the receiver answered 410 Gone"
		if derr := s.cfg.Registry.Disable(ctx, id, reason, Actor{Name: "webhooks", Role: "system"}); derr != nil {
			return notify.Permanent(errors.Join(err, fmt.Errorf("webhooks: disable subscription %s: %w", id, derr)))
		}
		return notify.Permanent(err)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return err
	}
	return notify.Permanent(err) // 1xx left over, 3xx (redirects are not followed), other 4xx
}

// sign returns the webhook-signature header: one "v1,<signature>" per
// secret, space-separated (the current and, during a rotation's overlap,
// the previous one).
func sign(secrets []string, msgID string, at time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			return "", err
		}
		sig, err := wh.Sign(msgID, at, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// isRefusedAddress reports whether a request failed on the SSRF guard.
func isRefusedAddress(err error) bool {
	return errors.Is(err, ssrf.ErrProhibitedIP) || errors.Is(err, ssrf.ErrProhibitedNetwork) ||
		errors.Is(err, ssrf.ErrProhibitedPort) || errors.Is(err, ssrf.ErrInvalidHostPort)
}
