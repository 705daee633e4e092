package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/eventstore/kurrentdb"
)

// config is every setting of the service and of the commands that share
// its data: the flags and RMALEDGER_* variables each command declares (see
// the option groups below and commands.go) fill in its part, and the rest
// keeps serve's defaults.
type config struct {
	// Args are the command's words after its name, e.g. "rebuild claims".
	Args words

	Addr          string
	DataDir       string
	APIKeys       string
	EventStoreURL string
	Dev           bool
	Sandbox       bool
	APIKeysFile   string

	LogLevel        string
	LogFormat       string
	MaxBodyBytes    int64
	PolicyFile      string
	SLAInterval     time.Duration
	FinanceTimeZone string
	TrustedProxies  string
	PublicURL       string
	StatusTimeZone  string
	ShutdownTimeout time.Duration
	MaxInFlight     int
	OverloadWait    time.Duration
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	DebugAddr       string
	MemoryLimit     string

	KeyStoreFile       string
	SigningKeyFile     string
	PublicKey          string
	CheckpointInterval time.Duration

	// Online payment of accepted estimates (payments.go): Stripe Checkout when both Stripe
	// secrets are set; else, with --dev or --sandbox, the sandbox's own checkout page; else none.
	StripeSecretKey     string
	StripeWebhookSecret string
	StripeAPIBase       string
	PaymentSuccessURL   string
	PaymentCancelURL    string
	// Where claims' files are kept (see files.go): DATA-DIR/files, or an S3-compatible bucket.
	FilesS3Endpoint    string
	FilesS3Bucket      string
	FilesS3Prefix      string
	FilesS3Region      string
	FilesS3AccessKey   string
	FilesS3SecretKey   string
	FilesMaxBytes      int64
	FilesMaxPerClaim   int
	FilesMaxClaimBytes int64
	// Notifications (notify.go): customers' e-mail and SMS, the desk's alerts, webhooks.
	SMTPHost        string
	SMTPPort        int
	SMTPUsername    string
	SMTPPassword    string
	SMTPFrom        string
	SMTPStartTLS    string
	CompanyName     string
	CompanyAddress  string
	MailSignature   string
	NotifyTemplates string
	DefaultLanguage string
	DeskEmail       string
	DeskAddresses   string
	SMSURL          string
	SMSToken        string
	WebhookNetworks string
	// A claim's printed documents (documents.go); audit check-document needs the same.
	DocumentsDir string
}

// defaultConfig is every setting at serve's default.
func defaultConfig() config {
	var c config
	serveOptions(newOptions("defaults"), &c)
	return c
}

// The option groups: each declares its settings once, for every command
// that uses them.

// addrOption is where the service listens (serve) or is reached (clock).
func addrOption(o *options, c *config) {
	o.String(&c.Addr, "addr", "127.0.0.1:8080", "address the HTTP API listens on (clock: where it is reached)")
}

// dataDirOption is the data directory: the embedded event log, the read models,
// and by default the keys.
func dataDirOption(o *options, c *config) {
	o.String(&c.DataDir, "data-dir", "./data", "directory of the embedded event store and read models")
}

// storeOptions say where the event log is.
func storeOptions(o *options, c *config) {
	dataDirOption(o, c)
	o.String(&c.EventStoreURL, "eventstore-url", "", "KurrentDB connection string (kurrentdb:// or esdb://); empty uses the embedded store").Secret()
}

// loggingOptions shape the log (a command other than serve logs to standard error).
func loggingOptions(o *options, c *config) {
	o.String(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	o.String(&c.LogFormat, "log-format", "text", "text or json")
}

// apiKeyOptions are the API keys: from the environment and from the keys file.
func apiKeyOptions(o *options, c *config) {
	o.String(&c.APIKeys, "api-keys", "", "API keys as role:key pairs separated by commas (roles: agent technician finance auditor admin)").Secret()
	o.String(&c.APIKeysFile, "api-keys-file", "", "the API keys file that rmaledger keys add|list|revoke edit and serve follows while running; empty: DATA-DIR/api-keys.json")
}

// policyFileOption is the warranty and SLA policy in force.
func policyFileOption(o *options, c *config) {
	o.String(&c.PolicyFile, "policy-file", "", "warranty and SLA policy file (YAML); empty uses the embedded default drawn from the seeds")
}

// keyStoreOption is where the customers' personal-data keys are.
func keyStoreOption(o *options, c *config) {
	o.String(&c.KeyStoreFile, "key-store-file", "", "the key store of the customers' personal-data keys (SQLite) that erasure destroys; keep it apart from backups of the event log; empty: DATA-DIR/keys/pii-keys.db")
}

// signingKeyOption is the key that signs audit checkpoints.
func signingKeyOption(o *options, c *config) {
	o.String(&c.SigningKeyFile, "signing-key-file", "", "Ed25519 private key (PEM from rmaledger keys generate) that signs audit checkpoints; empty signs none (with --dev a key in the data directory)")
}

// publicKeyOption is a public key audit checkpoints are signed with: serve
// still verifies checkpoints a former signing key signed; audit check and
// verify check with it.
func publicKeyOption(o *options, c *config) {
	o.String(&c.PublicKey, "public-key", "", "an Ed25519 public key (base64 as keys generate printed it, or its .pub file) checkpoints are signed with: serve still verifies those a former signing key signed; audit check and verify check with it").Env("AUDIT_PUBLIC_KEY")
}

// filesStoreOptions say where claims' files are kept: DATA-DIR/files, or an S3 bucket.
func filesStoreOptions(o *options, c *config) {
	o.String(&c.FilesS3Endpoint, "files-s3-endpoint", "", "URL of an S3-compatible object store for claims' files (https://s3.eu-central-1.amazonaws.com or http://minio:9000); empty keeps them in DATA-DIR/files").Env("S3_ENDPOINT")
	o.String(&c.FilesS3Bucket, "files-s3-bucket", "", "the bucket of claims' files (it must exist)").Env("S3_BUCKET")
	o.String(&c.FilesS3Prefix, "files-s3-prefix", "", "a key prefix for claims' files in the bucket, e.g. rmaledger/files/").Env("S3_PREFIX")
	o.String(&c.FilesS3Region, "files-s3-region", "", "the bucket's region; empty asks the store").Env("S3_REGION")
	o.String(&c.FilesS3AccessKey, "files-s3-access-key", "", "the access key of the files bucket").Env("S3_ACCESS_KEY").Secret()
	o.String(&c.FilesS3SecretKey, "files-s3-secret-key", "", "the secret key of the files bucket").Env("S3_SECRET_KEY").Secret()
}

// documentsOptions shape a claim's printed documents: the service issues
// them and audit check-document renders them again.
func documentsOptions(o *options, c *config) {
	o.String(&c.DocumentsDir, "documents-dir", "", "a directory of the deployment's own document files (each optional): document.html and print.css replace the built-in ones and are checked at start; logo.png or logo.jpg; legal-KIND.txt is the legal text of a kind (authorization intake release estimate service-report credit-note)")
	o.String(&c.CompanyName, "company-name", "RMA Ledger", "the company's name in customers' messages and at the head of a claim's documents")
	o.String(&c.CompanyAddress, "company-address", "", "the company's address under its name on a claim's documents; a literal backslash-n breaks the line")
	o.String(&c.PublicURL, "public-url", "", "the service's public origin, e.g. https://rma.example.com: the customer portal's private links and the documents' links start with it; empty: the origin each request came to")
}

// serveOptions are every setting of the service.
func serveOptions(o *options, c *config) {
	addrOption(o, c)
	storeOptions(o, c)
	loggingOptions(o, c)
	apiKeyOptions(o, c)
	policyFileOption(o, c)
	keyStoreOption(o, c)
	signingKeyOption(o, c)
	publicKeyOption(o, c)
	filesStoreOptions(o, c)
	documentsOptions(o, c)
	o.Bool(&c.Dev, "dev", false, "development mode: with no API keys configured generate one per role in the data directory and print them; likewise a console account per role (dev-agent ... dev-admin) with its password")
	o.Bool(&c.Sandbox, "sandbox", false, "sandbox mode: a data directory of its own (marked SANDBOX when created; a directory without the mark is refused and a normal service refuses one with it) whose test clock stands still until moved with POST /v1/admin/clock or rmaledger clock; embedded store only")

	o.Int64(&c.MaxBodyBytes, "max-body-bytes", 1048576, "largest request body accepted")
	o.Duration(&c.SLAInterval, "sla-interval", 15*time.Second, "how often the SLA timer process looks for expired clocks")
	o.String(&c.FinanceTimeZone, "finance-time-zone", "UTC", "IANA time zone of finance periods (a date in from/to is a day there), e.g. Europe/Sofia")
	o.String(&c.TrustedProxies, "trusted-proxies", "", "reverse proxies (CIDR networks or addresses separated by commas) whose X-Forwarded-For names the client; empty believes no header")
	o.String(&c.StatusTimeZone, "status-time-zone", "", "IANA time zone the public status page shows times in, e.g. Europe/Sofia; empty uses the time zone of the policy in force")
	o.Duration(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long a shutdown may drain requests")
	o.Int(&c.MaxInFlight, "max-in-flight", 256, "API requests served at once; beyond it a request waits overload-wait, then gets 503")
	o.Duration(&c.OverloadWait, "overload-wait", 100*time.Millisecond, "how long a request waits for a free slot before 503")
	o.Duration(&c.ReadTimeout, "read-timeout", 15*time.Second, "how long a client may take to send a whole request (headers and body)")
	o.Duration(&c.WriteTimeout, "write-timeout", 30*time.Second, "how long the answer to a request may take from the end of its headers; past it the connection is closed")
	o.Duration(&c.IdleTimeout, "idle-timeout", 120*time.Second, "how long a kept-alive connection may wait for its next request")
	o.String(&c.DebugAddr, "debug-addr", "", "address of a separate listener serving the Go profiler at /debug/pprof/ (e.g. 127.0.0.1:6060) for benchmarks; empty serves none; never expose it")
	o.String(&c.MemoryLimit, "memory-limit", "192MiB", "soft memory limit of the Go runtime (as GOMEMLIMIT: 192MiB, 1GiB or off); the collector works harder near it; GOMEMLIMIT when set wins")
	o.Duration(&c.CheckpointInterval, "checkpoint-interval", 15*time.Minute, "how often an audit checkpoint is signed when events were added; 0 only on request")

	o.String(&c.StripeSecretKey, "stripe-secret-key", "", "Stripe secret API key (sk_live_... or sk_test_...); with stripe-webhook-secret it offers online payment of accepted estimates through Stripe Checkout").Secret()
	o.String(&c.StripeWebhookSecret, "stripe-webhook-secret", "", "signing secret (whsec_...) of the Stripe webhook endpoint https://HOST/v1/payments/stripe/webhook").Secret()
	o.String(&c.StripeAPIBase, "stripe-api-base", "", "Stripe API address instead of Stripe's own, e.g. a stripe-mock server; empty: api.stripe.com")
	o.String(&c.PaymentSuccessURL, "payment-success-url", "", "where a customer returns after paying when the payment link names no return URL (default with --dev or --sandbox: the status page)")
	o.String(&c.PaymentCancelURL, "payment-cancel-url", "", "where a customer returns after cancelling a payment when the payment link names no return URL (default with --dev or --sandbox: the status page)")

	o.Int64(&c.FilesMaxBytes, "files-max-bytes", 10485760, "largest file one upload may attach to a claim (bytes)")
	o.Int(&c.FilesMaxPerClaim, "files-max-per-claim", 50, "most files one claim may hold")
	o.Int64(&c.FilesMaxClaimBytes, "files-max-claim-bytes", 104857600, "most bytes of files one claim may hold")

	o.String(&c.SMTPHost, "smtp-host", "", "SMTP server that sends customers' e-mail and the desk's alerts, e.g. smtp.example.com; empty: no e-mail is sent (with --dev it is logged)")
	o.Int(&c.SMTPPort, "smtp-port", 587, "the SMTP server's port (587: submission with STARTTLS)")
	o.String(&c.SMTPUsername, "smtp-username", "", "SMTP AUTH user name; empty: no authentication")
	o.String(&c.SMTPPassword, "smtp-password", "", "SMTP AUTH password").Secret()
	o.String(&c.SMTPFrom, "smtp-from", "", "the sender of every e-mail, e.g. 'Service <rma@example.com>' (required with smtp-host)")
	o.String(&c.SMTPStartTLS, "smtp-starttls", "mandatory", "mandatory: refuse a server without STARTTLS; opportunistic: use it when offered; none: never (a relay on the same host)")
	o.String(&c.MailSignature, "mail-signature", "", "the signature under customers' e-mail (a line or two: the desk's name and phone)")
	o.String(&c.NotifyTemplates, "notify-templates", "", "a directory of message templates that replace the embedded ones file by file (see docs/notifications.md); every template is checked at start")
	o.String(&c.DefaultLanguage, "default-language", "en", "the language of a customer's messages when the claim has none (en ru bg zh-Hans el)")
	o.String(&c.DeskEmail, "desk-email", "", "the desk's address for alerts (clocks due soon and breached, disputes, payments); empty: no alerts")
	o.String(&c.DeskAddresses, "desk-addresses", "", "people's own addresses for alerts on the claims assigned to them, as name=address pairs separated by commas")
	o.String(&c.SMSURL, "sms-url", "", "the SMS provider's HTTPS endpoint; set, customers get an SMS besides each e-mail")
	o.String(&c.SMSToken, "sms-token", "", "the bearer token of the SMS provider").Secret()
	o.String(&c.WebhookNetworks, "webhook-networks", "", "networks (CIDR, separated by commas) webhooks may reach although private, e.g. a partner's VPN; every other private, loopback, link-local and metadata address is refused")
}

// Validate reports settings that cannot work, before anything starts.
func (c config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir must not be empty"))
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			errs = append(errs, fmt.Errorf("debug-addr %q: %w", c.DebugAddr, err))
		}
	}
	if c.Sandbox && c.EventStoreURL != "" {
		errs = append(errs, errors.New("sandbox: a sandbox keeps its events in its own data directory; it refuses --eventstore-url, which may be production's"))
	}
	if c.EventStoreURL != "" {
		if err := kurrentdb.CheckConnectionString(c.EventStoreURL); err != nil {
			errs = append(errs, fmt.Errorf("eventstore-url: %w", err))
		}
	}
	if c.CheckpointInterval != 0 && c.CheckpointInterval < time.Second {
		errs = append(errs, fmt.Errorf("checkpoint-interval %s: want 0 (only on request) or at least 1s", c.CheckpointInterval))
	}
	if err := checkFinanceTimeZone(c.FinanceTimeZone); err != nil {
		errs = append(errs, err)
	}
	if _, err := loadPolicy(c.PolicyFile, time.Now()); err != nil {
		errs = append(errs, err)
	}
	if c.SLAInterval < 0 || (c.SLAInterval > 0 && c.SLAInterval < 100*time.Millisecond) {
		errs = append(errs, errors.New("sla-interval must be at least 100ms (0: the default, 15s)"))
	}
	if _, err := api.ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted-proxies: %w", err))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			errs = append(errs, fmt.Errorf("public-url %q: want an origin such as https://rma.example.com", c.PublicURL))
		}
	}
	if _, err := time.LoadLocation(c.StatusTimeZone); err != nil {
		errs = append(errs, fmt.Errorf("status-time-zone %q: %w", c.StatusTimeZone, err))
	}
	if _, err := parseMemoryLimit(c.MemoryLimit); err != nil {
		errs = append(errs, err)
	}
	if err := checkPaymentSettings(c); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkNotifications(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, errors.New("max-in-flight must be at least 1"))
	}
	if err := c.checkFiles(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("max-body-bytes must be at least 1024"))
	}
	for name, d := range map[string]time.Duration{"shutdown-timeout": c.ShutdownTimeout, "overload-wait": c.OverloadWait, "read-timeout": c.ReadTimeout, "write-timeout": c.WriteTimeout, "idle-timeout": c.IdleTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	return errors.Join(errs...)
}
