package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/rmaledger/rmaledger/notify"
	"github.com/rmaledger/rmaledger/notify/webhooks"
)

// receiver is a webhook receiver recording what it got.
type receiver struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int32
	mu     sync.Mutex
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, tls bool) *receiver {
	t.Helper()
	r := &receiver{}
	r.status.Store(http.StatusNoContent)
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.header, r.body = req.Header.Clone(), body
		r.mu.Unlock()
		r.hits.Add(1)
		if code := int(r.status.Load()); code >= 300 && code < 400 {
			w.Header().Set("Location", "http://127.0.0.1:1/internal")
			w.WriteHeader(code)
			return
		}
		w.WriteHeader(int(r.status.Load()))
	})
	if tls {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() (http.Header, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.header, r.body
}

// trust returns a pool trusting the receiver's certificate.
func (r *receiver) trust() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(r.Certificate())
	return pool
}

func (r *receiver) port() string {
	_, port, _ := net.SplitHostPort(r.Listener.Addr().String())
	return port
}

// loopback is the test receivers' network, allowed explicitly where a
// test needs to reach them.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func newSender(t *testing.T, cfg webhooks.SenderConfig) *webhooks.Sender {
	t.Helper()
	s, err := webhooks.NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func message(sub webhooks.Subscription) notify.Message {
	return notify.Message{ID: uuid.New(), Channel: notify.Webhook, Recipient: sub.ID.String(), Kind: "claim.authorized",
		Body: []byte(`{"type":"claim.authorized","data":{"claim_id":"x"}}`)}
}

// referenceSignature is the Standard Webhooks signature, written here from
// the specification rather than taken from the library.
func referenceSignature(secret, id, timestamp string, body []byte) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignatureVerifiesWithTheSpecificationAndTheLibrary(t *testing.T) {
	f := newFixture(t)
	rcv := newReceiver(t, true)
	sub, secret := f.create(t, webhooks.NewSubscription{URL: rcv.URL + "/hooks"})
	s := newSender(t, webhooks.SenderConfig{Registry: f.registry, RootCAs: rcv.trust(), AllowedNetworks: loopback, Now: func() time.Time { return *f.now }})
	m := message(sub)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	h, body := rcv.got()
	if string(body) != string(m.Body) || h.Get("Content-Type") != "application/json" || h.Get("User-Agent") == "" {
		t.Fatalf("received %q with headers %v", body, h)
	}
	if h.Get("webhook-id") != m.ID.String() || h.Get("webhook-timestamp") != fmt.Sprint(f.now.Unix()) {
		t.Fatalf("webhook-id %q, webhook-timestamp %q", h.Get("webhook-id"), h.Get("webhook-timestamp"))
	}
	if want := referenceSignature(secret, m.ID.String(), h.Get("webhook-timestamp"), body); h.Get("webhook-signature") != want {
		t.Fatalf("webhook-signature %q, want %q", h.Get("webhook-signature"), want)
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("the reference library does not verify: %v", err)
	}
	tampered := append([]byte{}, body...)
	tampered[2] ^= 1
	if err := wh.Verify(tampered, h); err == nil {
		t.Fatal("a tampered body verifies")
	}
}

func TestRotatedSecretSignsWithBothDuringTheOverlapOnly(t *testing.T) {
	f := newFixture(t)
	rcv := newReceiver(t, true)
	sub, oldSecret := f.create(t, webhooks.NewSubscription{URL: rcv.URL})
	newSecret, err := f.registry.RotateSecret(context.Background(), sub.ID, time.Hour, admin)
	if err != nil || newSecret == oldSecret {
		t.Fatalf("RotateSecret = %q, %v", newSecret, err)
	}
	s := newSender(t, webhooks.SenderConfig{Registry: f.registry, RootCAs: rcv.trust(), AllowedNetworks: loopback, Now: func() time.Time { return *f.now }})
	m := message(sub)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	h, body := rcv.got()
	sigs := strings.Split(h.Get("webhook-signature"), " ")
	ts := h.Get("webhook-timestamp")
	if len(sigs) != 2 || !containsAll(sigs, referenceSignature(newSecret, m.ID.String(), ts, body), referenceSignature(oldSecret, m.ID.String(), ts, body)) {
		t.Fatalf("during the overlap: signatures %q, want one per secret", sigs)
	}
	for _, secret := range []string{oldSecret, newSecret} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
			t.Fatalf("during the overlap a receiver with one secret fails: %v", err)
		}
	}

	*f.now = f.now.Add(time.Hour + time.Second)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	h, body = rcv.got()
	want := referenceSignature(newSecret, m.ID.String(), h.Get("webhook-timestamp"), body)
	if h.Get("webhook-signature") != want {
		t.Fatalf("after the overlap: %q, want the new secret's alone %q", h.Get("webhook-signature"), want)
	}
	got, _ := f.registry.Lookup(context.Background(), sub.ID)
	if got.PreviousSecretValidUntil.IsZero() || got.SecretRotated.IsZero() {
		t.Fatalf("the rotation is not shown: %+v", got)
	}
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestReceiverAnswersMapToDeliveryRetryOrPermanentFailure(t *testing.T) {
	f := newFixture(t)
	internal := newReceiver(t, false) // where a redirect points: never reached
	for _, tc := range []struct {
		code      int
		delivered bool
		permanent bool
	}{
		{200, true, false}, {202, true, false}, {204, true, false},
		{301, false, true}, {302, false, true}, {307, false, true},
		{400, false, true}, {401, false, true}, {404, false, true}, {422, false, true},
		{408, false, false}, {429, false, false},
		{500, false, false}, {502, false, false}, {503, false, false},
		{410, false, true},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			rcv := newReceiver(t, true)
			rcv.status.Store(int32(tc.code))
			sub, _ := f.create(t, webhooks.NewSubscription{URL: rcv.URL})
			s := newSender(t, webhooks.SenderConfig{Registry: f.registry, RootCAs: rcv.trust(), AllowedNetworks: loopback})
			err := s.Send(context.Background(), message(sub))
			if tc.delivered != (err == nil) || err != nil && notify.IsPermanent(err) != tc.permanent {
				t.Fatalf("Send = %v (permanent %v); want delivered %v, permanent %v", err, notify.IsPermanent(err), tc.delivered, tc.permanent)
			}
			if rcv.hits.Load() != 1 || internal.hits.Load() != 0 {
				t.Fatalf("receiver hit %d times, redirect target %d times", rcv.hits.Load(), internal.hits.Load())
			}
			got, _ := f.registry.Lookup(context.Background(), sub.ID)
			if got.Enabled != (tc.code != 410) {
				t.Fatalf("after %d the subscription is enabled=%v", tc.code, got.Enabled)
			}
		})
	}
}

// fakeDNS answers every A question with 127.0.0.1 and every other
// question with no answer: a public-looking name rebound to loopback.
func fakeDNS(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			hdr, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
			}
			out, err := b.Finish()
			if err == nil {
				pc.WriteTo(out, addr)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

func TestPrivateAndSpecialAddressesAreRefusedAtConnection(t *testing.T) {
	f := newFixture(t)
	rcv := newReceiver(t, true)
	resolver := fakeDNS(t)
	s := newSender(t, webhooks.SenderConfig{Registry: f.registry, RootCAs: rcv.trust(), Resolver: resolver, Timeout: 2 * time.Second})
	for _, url := range []string{
		"https://127.0.0.1:" + rcv.port() + "/",
		"https://[::1]:" + rcv.port() + "/",
		"https://localhost:" + rcv.port() + "/",
		// example.com is in the test certificate; the fake DNS rebinds it to 127.0.0.1.
		"https://example.com:" + rcv.port() + "/",
		"https://10.1.2.3/",
		"https://192.168.0.10/",
		"https://172.16.5.4/",
		"https://100.64.0.1/", // shared address space (CGNAT)
		"https://169.254.169.254/latest/meta-data/",
		"https://[fd00::1]/",
		"https://[::ffff:127.0.0.1]:" + rcv.port() + "/",
		"https://0.0.0.0:" + rcv.port() + "/",
	} {
		t.Run(url, func(t *testing.T) {
			sub, _ := f.create(t, webhooks.NewSubscription{URL: url})
			err := s.Send(context.Background(), message(sub))
			if err == nil || !notify.IsPermanent(err) || !strings.Contains(err.Error(), "address refused") {
				t.Fatalf("Send to %s = %v, want a permanent refusal of the address", url, err)
			}
		})
	}
	if rcv.hits.Load() != 0 {
		t.Fatalf("the loopback receiver was reached %d times", rcv.hits.Load())
	}

	// The same rebound name reaches the receiver once its network is allowed:
	// the refusal above was the address's, not the name's.
	allowed := newSender(t, webhooks.SenderConfig{Registry: f.registry, RootCAs: rcv.trust(), Resolver: resolver, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	sub, _ := f.create(t, webhooks.NewSubscription{URL: "https://example.com:" + rcv.port() + "/"})
	if err := allowed.Send(context.Background(), message(sub)); err != nil || rcv.hits.Load() != 1 {
		t.Fatalf("allowed network: Send = %v, hits %d", err, rcv.hits.Load())
	}
}

func TestRedirectToAnInternalAddressIsNotFollowed(t *testing.T) {
	f := newFixture(t)
	internal := newReceiver(t, false)
	public := newReceiver(t, true)
	public.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		public.hits.Add(1)
		http.Redirect(w, r, internal.URL+"/admin", http.StatusFound)
	})
	sub, _ := f.create(t, webhooks.NewSubscription{URL: public.URL})
	s := newSender(t, webhooks.SenderConfig{Registry: f.registry, RootCAs: public.trust(), AllowedNetworks: loopback})
	err := s.Send(context.Background(), message(sub))
	var status *webhooks.StatusError
	if !notify.IsPermanent(err) || !errors.As(err, &status) || status.Code != http.StatusFound {
		t.Fatalf("Send = %v, want a permanent 302", err)
	}
	if public.hits.Load() != 1 || internal.hits.Load() != 0 {
		t.Fatalf("public hit %d, internal hit %d: the redirect was followed", public.hits.Load(), internal.hits.Load())
	}
}

func TestPlainHTTPOnlyToLoopbackInDevelopment(t *testing.T) {
	f := newFixture(t)
	rcv := newReceiver(t, false)
	dev, _ := webhooks.New(webhooks.Config{Store: f.store, AllowLoopbackHTTP: true})
	sub, _, err := dev.Create(context.Background(), webhooks.NewSubscription{URL: rcv.URL}, admin)
	if err != nil {
		t.Fatal(err)
	}
	strict := newSender(t, webhooks.SenderConfig{Registry: dev, AllowedNetworks: loopback})
	if err := strict.Send(context.Background(), message(sub)); !notify.IsPermanent(err) || rcv.hits.Load() != 0 {
		t.Fatalf("outside development: Send = %v, hits %d; want refused", err, rcv.hits.Load())
	}
	devSender := newSender(t, webhooks.SenderConfig{Registry: dev, AllowLoopbackHTTP: true})
	if err := devSender.Send(context.Background(), message(sub)); err != nil || rcv.hits.Load() != 1 {
		t.Fatalf("in development: Send = %v, hits %d", err, rcv.hits.Load())
	}
	// Development opens plain http to loopback, not the guard of https.
	sub2, _, err := dev.Create(context.Background(), webhooks.NewSubscription{URL: "https://10.1.2.3/"}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := devSender.Send(context.Background(), message(sub2)); !notify.IsPermanent(err) {
		t.Fatalf("in development, https to a private address: Send = %v", err)
	}
}

func TestDisabledOrDeletedSubscriptionsAreNotSent(t *testing.T) {
	f := newFixture(t)
	rcv := newReceiver(t, true)
	sub, _ := f.create(t, webhooks.NewSubscription{URL: rcv.URL})
	s := newSender(t, webhooks.SenderConfig{Registry: f.registry, RootCAs: rcv.trust(), AllowedNetworks: loopback})
	ctx := context.Background()
	if err := f.registry.Disable(ctx, sub.ID, "", admin); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, message(sub)); !notify.IsPermanent(err) {
		t.Fatalf("disabled: Send = %v", err)
	}
	if err := f.registry.Enable(ctx, sub.ID, admin); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, message(sub)); err != nil {
		t.Fatalf("enabled again: Send = %v", err)
	}
	if err := f.registry.Delete(ctx, sub.ID, admin); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, message(sub)); !notify.IsPermanent(err) || rcv.hits.Load() != 1 {
		t.Fatalf("deleted: Send = %v, hits %d", err, rcv.hits.Load())
	}
}

func TestAnUnansweringReceiverTimesOutAndIsRetried(t *testing.T) {
	f := newFixture(t)
	rcv := newReceiver(t, true)
	release := make(chan struct{})
	rcv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	sub, _ := f.create(t, webhooks.NewSubscription{URL: rcv.URL})
	s := newSender(t, webhooks.SenderConfig{Registry: f.registry, RootCAs: rcv.trust(), AllowedNetworks: loopback, Timeout: 200 * time.Millisecond})
	start := time.Now()
	err := s.Send(context.Background(), message(sub))
	if err == nil || notify.IsPermanent(err) || time.Since(start) > 5*time.Second {
		t.Fatalf("Send = %v after %v; want a retryable timeout", err, time.Since(start))
	}
}
