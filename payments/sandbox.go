package payments

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
)

// SandboxCheckoutPath is where the sandbox serves its checkout pages:
// SandboxCheckoutPath + "{id}".
const SandboxCheckoutPath = "/payments/sandbox/checkout/"

// SandboxConfig configures the sandbox provider.
type SandboxConfig struct {
	// BaseURL is the service's own address as the customer's browser reaches it
	// (http://127.0.0.1:8080); checkout URLs start with it (required).
	BaseURL string
	// Stylesheet is the path of the status page's stylesheet, which the checkout page uses.
	Stylesheet string
	// Secret signs the sandbox's webhooks (default: random for the process).
	Secret string
	// Tolerance is how old a webhook's signature may be (default 5 minutes).
	Tolerance time.Duration
	// Clock dates the signatures (default time.Now).
	Clock func() time.Time
	// MaxCheckouts bounds the open checkouts kept in memory (default 1,000); the oldest is
	// forgotten first.
	MaxCheckouts int
}

// Receiver takes a provider's webhook as the webhook route does (Service.HandleWebhook).
type Receiver interface {
	HandleWebhook(ctx context.Context, provider string, header http.Header, body []byte) (Outcome, error)
}

// Sandbox is a payment provider for development and tests: its hosted checkout is a page the
// service serves itself, with a pay and a cancel button. Paying signs a Stripe-format
// checkout.session.completed event with the sandbox's secret and delivers it to the Receiver,
// through the same verification and recording as a real provider's webhook. No money moves.
type Sandbox struct {
	cfg      SandboxConfig
	page     *template.Template
	mu       sync.Mutex
	sessions map[string]sandboxCheckout
	order    []string // session ids, oldest first
	receiver Receiver
}

// sandboxCheckout is an open checkout.
type sandboxCheckout struct {
	CheckoutRequest
	paymentID string
}

//go:embed sandbox.html
var sandboxAssets embed.FS

// NewSandbox returns the sandbox provider.
func NewSandbox(cfg SandboxConfig) (*Sandbox, error) {
	if err := checkReturnURL(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("payments: sandbox base URL: %w", err)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Secret == "" {
		cfg.Secret = "whsec_sandbox_" + randomHex(24)
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = 5 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxCheckouts == 0 {
		cfg.MaxCheckouts = 1000
	}
	page, err := template.New("sandbox.html").Funcs(template.FuncMap{"t": translate}).ParseFS(sandboxAssets, "sandbox.html")
	if err != nil {
		return nil, err
	}
	return &Sandbox{cfg: cfg, page: page, sessions: map[string]sandboxCheckout{}}, nil
}

// ConfirmTo names where paid checkouts are confirmed: the service that records them.
func (s *Sandbox) ConfirmTo(r Receiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.receiver = r
}

// Name returns "sandbox".
func (*Sandbox) Name() string { return "sandbox" }

// CreateCheckout opens a checkout page for the request.
func (s *Sandbox) CreateCheckout(_ context.Context, req CheckoutRequest) (Checkout, error) {
	suffix := randomHex(12)
	id := "cs_sandbox_" + suffix
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) >= s.cfg.MaxCheckouts {
		delete(s.sessions, s.order[0])
		s.order = s.order[1:]
	}
	s.sessions[id] = sandboxCheckout{CheckoutRequest: req, paymentID: "pi_sandbox_" + suffix}
	s.order = append(s.order, id)
	return Checkout{ID: id, URL: s.cfg.BaseURL + SandboxCheckoutPath + id}, nil
}

// ParseWebhook verifies and reads a sandbox webhook: Stripe's event format and signature
// scheme, under the sandbox's secret.
func (s *Sandbox) ParseWebhook(header http.Header, body []byte) (Confirmation, error) {
	return parseStripeEvent(body, header.Get("Stripe-Signature"), s.cfg.Secret, s.cfg.Tolerance)
}

// Handler serves the checkout pages under SandboxCheckoutPath: GET shows the amount with the
// pay and cancel buttons, POST .../pay confirms the payment, POST .../cancel abandons it; both
// then send the customer back to the return URL.
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+SandboxCheckoutPath+"{id}", s.show)
	mux.HandleFunc("POST "+SandboxCheckoutPath+"{id}/pay", s.pay)
	mux.HandleFunc("POST "+SandboxCheckoutPath+"{id}/cancel", s.cancel)
	return mux
}

func (s *Sandbox) checkout(id string) (sandboxCheckout, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.sessions[id]
	return c, ok
}

// pageData is what the checkout page shows.
type pageData struct {
	Lang       string
	Stylesheet string
	ID         string
	Checkout   sandboxCheckout
	Amount     string
	Problem    string
}

func (s *Sandbox) show(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, r.PathValue("id"), "")
}

func (s *Sandbox) render(w http.ResponseWriter, r *http.Request, status int, id, problem string) {
	data := pageData{Lang: pageLanguage(r), Stylesheet: s.cfg.Stylesheet, ID: id, Problem: problem}
	c, ok := s.checkout(id)
	if ok {
		data.Checkout, data.Amount = c, c.Amount.String()
	} else if status == http.StatusOK {
		status = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", data.Lang)
	w.WriteHeader(status)
	_ = s.page.Execute(w, data) // a failed write is the client's: the page is already committed
}

func (s *Sandbox) pay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := s.checkout(id)
	s.mu.Lock()
	receiver := s.receiver
	s.mu.Unlock()
	switch {
	case !ok:
		s.render(w, r, http.StatusNotFound, id, "")
		return
	case receiver == nil:
		s.render(w, r, http.StatusServiceUnavailable, id, "the sandbox confirms to no service")
		return
	}
	body, header, err := s.signedCompletion(id, c)
	if err == nil {
		_, err = receiver.HandleWebhook(r.Context(), s.Name(), header, body)
	}
	if err != nil {
		s.render(w, r, http.StatusUnprocessableEntity, id, err.Error())
		return
	}
	http.Redirect(w, r, c.SuccessURL, http.StatusSeeOther)
}

func (s *Sandbox) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := s.checkout(id)
	if !ok {
		s.render(w, r, http.StatusNotFound, id, "")
		return
	}
	http.Redirect(w, r, c.CancelURL, http.StatusSeeOther)
}

// signedCompletion is the checkout.session.completed event of a paid sandbox checkout, in
// Stripe's format, and its Stripe-Signature header. Paying the same checkout again sends the
// same payment id, which is recorded once.
func (s *Sandbox) signedCompletion(id string, c sandboxCheckout) ([]byte, http.Header, error) {
	amount, err := toStripeAmount(c.Amount)
	if err != nil {
		return nil, nil, err
	}
	now := s.cfg.Clock()
	body, err := json.Marshal(map[string]any{
		"id": "evt_sandbox_" + randomHex(12), "object": "event", "type": "checkout.session.completed",
		"api_version": "2025-08-27.basil", "created": now.Unix(), "livemode": false,
		"data": map[string]any{"object": map[string]any{
			"id": id, "object": "checkout.session", "mode": "payment", "status": "complete", "payment_status": "paid",
			"client_reference_id": c.ClaimID.String(), "amount_total": amount, "currency": stripeCurrency(c.Amount.Currency),
			"payment_intent": c.paymentID, "metadata": map[string]string{"claim_id": c.ClaimID.String(), "claim_number": c.ClaimNumber},
		}},
	})
	if err != nil {
		return nil, nil, err
	}
	mac := hmac.New(sha256.New, []byte(s.cfg.Secret))
	fmt.Fprintf(mac, "%d.%s", now.Unix(), body)
	header := http.Header{}
	header.Set("Stripe-Signature", fmt.Sprintf("t=%d,v1=%s", now.Unix(), hex.EncodeToString(mac.Sum(nil))))
	return body, header, nil
}

// The page's languages: the status page's.
var pageLanguages = []language.Tag{language.English, language.Russian, language.Bulgarian, language.Chinese, language.Greek}

var languageMatcher = language.NewMatcher(pageLanguages)

// pageLanguage is the ?lang= the customer chose, else the best match of Accept-Language.
func pageLanguage(r *http.Request) string {
	tag, _ := language.MatchStrings(languageMatcher, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"))
	base, _ := tag.Base()
	return base.String()
}

// messages are the page's texts per language.
var messages = map[string]map[string]string{
	"en": {
		"title": "Sandbox payment", "notice": "This is the sandbox: no money moves. Paying records the payment as a real provider's confirmation would.",
		"claim": "Claim", "amount": "Amount due", "pay": "Pay", "cancel": "Cancel", "unknown": "This checkout does not exist or has expired.",
		"refused": "The payment was not recorded", "languages": "Language", "skip": "Skip to the payment",
	},
	"ru": {
		"title": "Тестовая оплата", "notice": "Это тестовая среда: деньги не списываются. Оплата записывается так же, как подтверждение настоящего платёжного провайдера.",
		"claim": "Заявка", "amount": "К оплате", "pay": "Оплатить", "cancel": "Отменить", "unknown": "Такой страницы оплаты нет, или её срок истёк.",
		"refused": "Оплата не записана", "languages": "Язык", "skip": "Перейти к оплате",
	},
	"bg": {
		"title": "Тестово плащане", "notice": "Това е тестова среда: не се движат пари. Плащането се записва, както би се записало потвърждението на истински доставчик.",
		"claim": "Рекламация", "amount": "Дължима сума", "pay": "Плати", "cancel": "Откажи", "unknown": "Тази страница за плащане не съществува или е изтекла.",
		"refused": "Плащането не е записано", "languages": "Език", "skip": "Към плащането",
	},
	"zh": {
		"title": "沙盒付款", "notice": "这是沙盒环境：不会产生真实扣款。付款会像真实支付服务商的确认一样被记录。",
		"claim": "工单", "amount": "应付金额", "pay": "付款", "cancel": "取消", "unknown": "此付款页面不存在或已过期。",
		"refused": "付款未被记录", "languages": "语言", "skip": "跳到付款",
	},
	"el": {
		"title": "Δοκιμαστική πληρωμή", "notice": "Αυτό είναι το δοκιμαστικό περιβάλλον: δεν κινούνται χρήματα. Η πληρωμή καταγράφεται όπως η επιβεβαίωση ενός πραγματικού παρόχου.",
		"claim": "Αίτημα", "amount": "Οφειλόμενο ποσό", "pay": "Πληρωμή", "cancel": "Ακύρωση", "unknown": "Αυτή η σελίδα πληρωμής δεν υπάρχει ή έχει λήξει.",
		"refused": "Η πληρωμή δεν καταγράφηκε", "languages": "Γλώσσα", "skip": "Μετάβαση στην πληρωμή",
	},
}

// translate is the page's text for key in lang.
func translate(lang, key string) string {
	if m, ok := messages[lang][key]; ok {
		return m
	}
	return messages["en"][key]
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
