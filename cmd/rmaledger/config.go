package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/ardanlabs/conf/v3"

	"github.com/rmaledger/rmaledger/api"
	"github.com/rmaledger/rmaledger/eventstore/kurrentdb"
)

// config is every setting of the service, from flags and RMALEDGER_*
// environment variables (flags win). Secrets are tagged mask so that the
// configuration can be logged at start.
type config struct {
	conf.Version
	Args conf.Args

	Addr          string `conf:"default:127.0.0.1:8080,help:address the HTTP API listens on"`
	DataDir       string `conf:"default:./data,help:directory of the embedded event store and read models"`
	APIKeys       string `conf:"mask,help:API keys as role:key pairs separated by commas (roles: agent technician finance auditor admin)"`
	EventStoreURL string `conf:"env:EVENTSTORE_URL,flag:eventstore-url,mask,help:KurrentDB connection string (kurrentdb:// or esdb://); empty uses the embedded store"`
	Dev           bool   `conf:"help:development mode: with no API keys configured generate one per role in the data directory and print them; likewise a console account per role (dev-agent ... dev-admin) with its password"`
	Sandbox       bool   `conf:"help:sandbox mode: a data directory of its own (marked SANDBOX when created; a directory without the mark is refused and a normal service refuses one with it) whose test clock stands still until moved with POST /v1/admin/clock or rmaledger clock; embedded store only"`
	APIKeysFile   string `conf:"help:the API keys file that rmaledger keys add|list|revoke edit and serve follows while running; empty: DATA-DIR/api-keys.json"`

	LogLevel        string        `conf:"default:info,help:debug info warn or error"`
	LogFormat       string        `conf:"default:text,help:text or json"`
	MaxBodyBytes    int64         `conf:"default:1048576,help:largest request body accepted"`
	PolicyFile      string        `conf:"help:warranty and SLA policy file (YAML); empty uses the embedded default drawn from the seeds"`
	SLAInterval     time.Duration `conf:"default:15s,help:how often the SLA timer process looks for expired clocks"`
	FinanceTimeZone string        `conf:"default:UTC,help:IANA time zone of finance periods (a date in from/to is a day there) e.g. Europe/Sofia"`
	TrustedProxies  string        `conf:"help:reverse proxies (CIDR networks or addresses separated by commas) whose X-Forwarded-For names the client; empty believes no header"`
	PublicURL       string        `conf:"help:the service's public origin e.g. https://rma.example.com: the customer portal's private links start with it; empty: the origin each request came to"`
	StatusTimeZone  string        `conf:"help:IANA time zone the public status page shows times in e.g. Europe/Sofia; empty uses the time zone of the policy in force"`
	ShutdownTimeout time.Duration `conf:"default:20s,help:how long a shutdown may drain requests"`
	MaxInFlight     int           `conf:"default:256,help:API requests served at once; beyond it a request waits overload-wait then gets 503"`
	OverloadWait    time.Duration `conf:"default:100ms,help:how long a request waits for a free slot before 503"`
	ReadTimeout     time.Duration `conf:"default:15s,help:how long a client may take to send a whole request (headers and body)"`
	WriteTimeout    time.Duration `conf:"default:30s,help:how long the answer to a request may take from the end of its headers; past it the connection is closed"`
	IdleTimeout     time.Duration `conf:"default:120s,help:how long a kept-alive connection may wait for its next request"`
	DebugAddr       string        `conf:"help:address of a separate listener serving the Go profiler at /debug/pprof/ (e.g. 127.0.0.1:6060) for benchmarks; empty serves none; never expose it"`
	MemoryLimit     string        `conf:"default:192MiB,help:soft memory limit of the Go runtime (as GOMEMLIMIT: 192MiB 1GiB or off); the collector works harder near it; GOMEMLIMIT when set wins"`

	KeyStoreFile       string        `conf:"help:the key store of the customers' personal-data keys (SQLite) that erasure destroys; keep it apart from backups of the event log; empty: DATA-DIR/keys/pii-keys.db"`
	SigningKeyFile     string        `conf:"help:Ed25519 private key (PEM from rmaledger keys generate) that signs audit checkpoints; empty signs none (with --dev a key in the data directory)"`
	CheckpointInterval time.Duration `conf:"default:15m,help:how often an audit checkpoint is signed when events were added; 0 only on request"`

	// Online payment of accepted estimates (payments.go): Stripe Checkout when both Stripe
	// secrets are set; else, with --dev or --sandbox, the sandbox's own checkout page; else none.
	StripeSecretKey     string `conf:"mask,help:Stripe secret API key (sk_live_... or sk_test_...); with stripe-webhook-secret it offers online payment of accepted estimates through Stripe Checkout"`
	StripeWebhookSecret string `conf:"mask,help:signing secret (whsec_...) of the Stripe webhook endpoint https://HOST/v1/payments/stripe/webhook"`
	StripeAPIBase       string `conf:"help:Stripe API address instead of Stripe's own e.g. a stripe-mock server; empty: api.stripe.com"`
	PaymentSuccessURL   string `conf:"help:where a customer returns after paying when the payment link names no return URL (default with --dev or --sandbox: the status page)"`
	PaymentCancelURL    string `conf:"help:where a customer returns after cancelling a payment when the payment link names no return URL (default with --dev or --sandbox: the status page)"`
	// Where claims' files are kept (see files.go): DATA-DIR/files, or an S3-compatible bucket.
	FilesS3Endpoint    string `conf:"env:S3_ENDPOINT,flag:files-s3-endpoint,help:URL of an S3-compatible object store for claims' files (https://s3.eu-central-1.amazonaws.com or http://minio:9000); empty keeps them in DATA-DIR/files"`
	FilesS3Bucket      string `conf:"env:S3_BUCKET,flag:files-s3-bucket,help:the bucket of claims' files (it must exist)"`
	FilesS3Prefix      string `conf:"env:S3_PREFIX,flag:files-s3-prefix,help:a key prefix for claims' files in the bucket e.g. rmaledger/files/"`
	FilesS3Region      string `conf:"env:S3_REGION,flag:files-s3-region,help:the bucket's region; empty asks the store"`
	FilesS3AccessKey   string `conf:"env:S3_ACCESS_KEY,flag:files-s3-access-key,mask,help:the access key of the files bucket"`
	FilesS3SecretKey   string `conf:"env:S3_SECRET_KEY,flag:files-s3-secret-key,mask,help:the secret key of the files bucket"`
	FilesMaxBytes      int64  `conf:"default:10485760,help:largest file one upload may attach to a claim (bytes)"`
	FilesMaxPerClaim   int    `conf:"default:50,help:most files one claim may hold"`
	FilesMaxClaimBytes int64  `conf:"default:104857600,help:most bytes of files one claim may hold"`
	// Notifications (notify.go): customers' e-mail and SMS, the desk's alerts, webhooks.
	SMTPHost        string `conf:"env:SMTP_HOST,flag:smtp-host,help:SMTP server that sends customers' e-mail and the desk's alerts e.g. smtp.example.com; empty: no e-mail is sent (with --dev it is logged)"`
	SMTPPort        int    `conf:"env:SMTP_PORT,flag:smtp-port,default:587,help:the SMTP server's port (587 submission with STARTTLS)"`
	SMTPUsername    string `conf:"env:SMTP_USERNAME,flag:smtp-username,help:SMTP AUTH user name; empty: no authentication"`
	SMTPPassword    string `conf:"env:SMTP_PASSWORD,flag:smtp-password,mask,help:SMTP AUTH password"`
	SMTPFrom        string `conf:"env:SMTP_FROM,flag:smtp-from,help:the sender of every e-mail e.g. 'Service <rma@example.com>' (required with smtp-host)"`
	SMTPStartTLS    string `conf:"env:SMTP_STARTTLS,flag:smtp-starttls,default:mandatory,help:mandatory: refuse a server without STARTTLS; opportunistic: use it when offered; none: never (a relay on the same host)"`
	CompanyName     string `conf:"default:RMA Ledger,help:the company's name in customers' messages and at the head of a claim's documents"`
	CompanyAddress  string `conf:"help:the company's address under its name on a claim's documents; a literal backslash-n breaks the line"`
	MailSignature   string `conf:"help:the signature under customers' e-mail (a line or two: the desk's name and phone)"`
	NotifyTemplates string `conf:"help:a directory of message templates that replace the embedded ones file by file (see docs/notifications.md); every template is checked at start"`
	DefaultLanguage string `conf:"default:en,help:the language of a customer's messages when the claim has none (en ru bg zh-Hans el)"`
	DeskEmail       string `conf:"help:the desk's address for alerts (clocks due soon and breached, disputes, payments); empty: no alerts"`
	DeskAddresses   string `conf:"help:people's own addresses for alerts on the claims assigned to them, as name=address pairs separated by commas"`
	SMSURL          string `conf:"env:SMS_URL,flag:sms-url,help:the SMS provider's HTTPS endpoint; set, customers get an SMS besides each e-mail"`
	SMSToken        string `conf:"env:SMS_TOKEN,flag:sms-token,mask,help:the bearer token of the SMS provider"`
	WebhookNetworks string `conf:"help:networks (CIDR, separated by commas) webhooks may reach although private e.g. a partner's VPN; every other private, loopback, link-local and metadata address is refused"`
	// A claim's printed documents (documents.go); audit check-document needs the same.
	DocumentsDir string `conf:"help:a directory of the deployment's own document files (each optional): document.html and print.css replace the built-in ones and are checked at start; logo.png or logo.jpg; legal-KIND.txt is the legal text of a kind (authorization intake release estimate service-report credit-note)"`
	// The audit commands' options (rmaledger audit ...).
	Claim     string `conf:"env:AUDIT_CLAIM,flag:claim,noprint,help:audit verify/export: one claim (its id)"`
	From      string `conf:"env:AUDIT_FROM,flag:from,noprint,help:audit verify/export: the position to start at"`
	To        string `conf:"env:AUDIT_TO,flag:to,noprint,help:audit export: the last position to export in full"`
	PublicKey string `conf:"env:AUDIT_PUBLIC_KEY,flag:public-key,noprint,help:audit check/verify: the public key checkpoints are signed with (base64 or a PEM file)"`
	// The policy what-if's options (rmaledger policy whatif ...).
	WhatIfPolicy string `conf:"env:WHATIF_POLICY,flag:policy,noprint,help:policy whatif: the candidate policy file to replay the recorded claims under"`
	Since        string `conf:"env:WHATIF_SINCE,flag:since,noprint,help:policy whatif: only claims registered on or after this day (YYYY-MM-DD in the policy's time zone) or RFC 3339 instant"`
	JSON         bool   `conf:"env:WHATIF_JSON,flag:json,noprint,help:policy whatif: the report as JSON instead of a table"`
	// The clock command's option (rmaledger clock ...); it reaches the service at --addr.
	AdminKey string `conf:"env:ADMIN_KEY,flag:admin-key,mask,noprint,help:clock: an admin API key of the sandbox service (default: the admin key --dev generated in the data directory)"`
	// The API key commands' options (rmaledger keys add ...).
	KeyRole    string        `conf:"env:KEYS_ROLE,flag:role,noprint,help:keys add and users add: the new key's or account's role (agent technician finance auditor admin partner)"`
	KeyOrg     string        `conf:"env:KEYS_ORG,flag:org,noprint,help:keys add and users add: the partner organisation a partner's key or account belongs to (required for role partner)"`
	KeyName    string        `conf:"env:KEYS_NAME,flag:name,noprint,help:keys add and users add: the new key's or account's name: the actor on its events (a key's default: role and fingerprint)"`
	KeyExpires time.Duration `conf:"env:KEYS_EXPIRES,flag:expires,noprint,help:keys add: how long the new key works e.g. 720h (default: until revoked)"`
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
