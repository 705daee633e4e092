package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// serveSettings are the settings of serve, each with its flag and its
// environment variable as the README documents them and a value other than
// its default. Each setting's behaviour is proven by a test of its own:
//
//	Addr, DataDir        every test that starts the service (start, serveInProcess); TestKillAfterAcknowledgeLosesNothing restarts on the same data directory
//	APIKeys              TestRefusesToStartWithoutKeys, TestServesWithOnlyTheKeysFile
//	EventStoreURL        TestEventStoreURLSetting
//	Dev                  TestDevGeneratesKeysPerRoleAndKeepsThem, TestServeMountsThePortal (portal links logged)
//	Sandbox              TestSandboxAndProductionDataNeverMix, TestSandboxClockClosesAnExpiredShipmentWindow
//	PolicyFile           TestPolicyServes, TestPolicyFileIsCheckedAtStart
//	SigningKeyFile       TestAuditCommands
//	PublicKey            TestServeVerifiesAFormerSigningKey (serve shares it with audit check and verify)
//	SLAInterval          TestSLAIntervalSetting
//	MaxInFlight, OverloadWait                                 TestOverloadSettings
//	ReadTimeout, WriteTimeout, IdleTimeout, ShutdownTimeout   TestServeTimeouts
//	StatusTimeZone       TestStatusPageTimeZone
//	PublicURL            TestPublicURLSetting
//	StripeSecretKey, StripeWebhookSecret, StripeAPIBase, PaymentSuccessURL, PaymentCancelURL   TestOnlinePaymentSettings
//	FilesS3*             TestFilesS3Flags (the keys as RMALEDGER_S3_*)
//	FilesMax*            TestFilesMaxBytesFlag, TestFilesPerClaimFlag
//	SMTP*, CompanyName, MailSignature, DefaultLanguage, PublicURL in e-mail   TestCustomerEmailThroughSMTP (as RMALEDGER_ variables), TestNotificationSettings
//	NotifyTemplates, DeskEmail, DeskAddresses, SMSURL, SMSToken, WebhookNetworks                   TestNotificationSettings
//	CompanyName, CompanyAddress, DocumentsDir on papers   TestCheckDocument, TestDocumentsDirIsCheckedAtStart
//	the rest             TestServeSettings, a subtest each
var serveSettings = []struct {
	field string
	flag  []string // the flag form, with its value
	env   string   // the variable form, NAME=value
	want  any
}{
	{"Addr", []string{"--addr", "127.0.0.1:9999"}, "RMALEDGER_ADDR=127.0.0.1:9999", "127.0.0.1:9999"},
	{"DataDir", []string{"--data-dir", "/srv/ledger"}, "RMALEDGER_DATA_DIR=/srv/ledger", "/srv/ledger"},
	{"APIKeys", []string{"--api-keys", "agent:k"}, "RMALEDGER_API_KEYS=agent:k", "agent:k"},
	{"EventStoreURL", []string{"--eventstore-url", "kurrentdb://db:2113"}, "RMALEDGER_EVENTSTORE_URL=kurrentdb://db:2113", "kurrentdb://db:2113"},
	{"Dev", []string{"--dev"}, "RMALEDGER_DEV=true", true},
	{"Sandbox", []string{"--sandbox"}, "RMALEDGER_SANDBOX=true", true},
	{"APIKeysFile", []string{"--api-keys-file", "/etc/k.json"}, "RMALEDGER_API_KEYS_FILE=/etc/k.json", "/etc/k.json"},
	{"LogLevel", []string{"--log-level", "warn"}, "RMALEDGER_LOG_LEVEL=warn", "warn"},
	{"LogFormat", []string{"--log-format", "json"}, "RMALEDGER_LOG_FORMAT=json", "json"},
	{"MaxBodyBytes", []string{"--max-body-bytes", "4096"}, "RMALEDGER_MAX_BODY_BYTES=4096", int64(4096)},
	{"PolicyFile", []string{"--policy-file", "/etc/p.yaml"}, "RMALEDGER_POLICY_FILE=/etc/p.yaml", "/etc/p.yaml"},
	{"SLAInterval", []string{"--sla-interval", "2s"}, "RMALEDGER_SLA_INTERVAL=2s", 2 * time.Second},
	{"FinanceTimeZone", []string{"--finance-time-zone", "Europe/Sofia"}, "RMALEDGER_FINANCE_TIME_ZONE=Europe/Sofia", "Europe/Sofia"},
	{"TrustedProxies", []string{"--trusted-proxies", "10.0.0.0/8"}, "RMALEDGER_TRUSTED_PROXIES=10.0.0.0/8", "10.0.0.0/8"},
	{"StatusTimeZone", []string{"--status-time-zone", "Asia/Tokyo"}, "RMALEDGER_STATUS_TIME_ZONE=Asia/Tokyo", "Asia/Tokyo"},
	{"PublicURL", []string{"--public-url", "https://rma.example.com"}, "RMALEDGER_PUBLIC_URL=https://rma.example.com", "https://rma.example.com"},
	{"ShutdownTimeout", []string{"--shutdown-timeout", "3s"}, "RMALEDGER_SHUTDOWN_TIMEOUT=3s", 3 * time.Second},
	{"MaxInFlight", []string{"--max-in-flight", "7"}, "RMALEDGER_MAX_IN_FLIGHT=7", 7},
	{"OverloadWait", []string{"--overload-wait", "3s"}, "RMALEDGER_OVERLOAD_WAIT=3s", 3 * time.Second},
	{"ReadTimeout", []string{"--read-timeout", "3s"}, "RMALEDGER_READ_TIMEOUT=3s", 3 * time.Second},
	{"WriteTimeout", []string{"--write-timeout", "3s"}, "RMALEDGER_WRITE_TIMEOUT=3s", 3 * time.Second},
	{"IdleTimeout", []string{"--idle-timeout", "3s"}, "RMALEDGER_IDLE_TIMEOUT=3s", 3 * time.Second},
	{"DebugAddr", []string{"--debug-addr", "127.0.0.1:6060"}, "RMALEDGER_DEBUG_ADDR=127.0.0.1:6060", "127.0.0.1:6060"},
	{"MemoryLimit", []string{"--memory-limit", "1GiB"}, "RMALEDGER_MEMORY_LIMIT=1GiB", "1GiB"},
	{"KeyStoreFile", []string{"--key-store-file", "/keys/pii.db"}, "RMALEDGER_KEY_STORE_FILE=/keys/pii.db", "/keys/pii.db"},
	{"SigningKeyFile", []string{"--signing-key-file", "/keys/sign.pem"}, "RMALEDGER_SIGNING_KEY_FILE=/keys/sign.pem", "/keys/sign.pem"},
	{"PublicKey", []string{"--public-key", "former.pem.pub"}, "RMALEDGER_AUDIT_PUBLIC_KEY=former.pem.pub", "former.pem.pub"},
	{"CheckpointInterval", []string{"--checkpoint-interval", "5m"}, "RMALEDGER_CHECKPOINT_INTERVAL=5m", 5 * time.Minute},
	{"StripeSecretKey", []string{"--stripe-secret-key", "sk_test_1"}, "RMALEDGER_STRIPE_SECRET_KEY=sk_test_1", "sk_test_1"},
	{"StripeWebhookSecret", []string{"--stripe-webhook-secret", "whsec_1"}, "RMALEDGER_STRIPE_WEBHOOK_SECRET=whsec_1", "whsec_1"},
	{"StripeAPIBase", []string{"--stripe-api-base", "http://127.0.0.1:12111"}, "RMALEDGER_STRIPE_API_BASE=http://127.0.0.1:12111", "http://127.0.0.1:12111"},
	{"PaymentSuccessURL", []string{"--payment-success-url", "https://shop.example/paid"}, "RMALEDGER_PAYMENT_SUCCESS_URL=https://shop.example/paid", "https://shop.example/paid"},
	{"PaymentCancelURL", []string{"--payment-cancel-url", "https://shop.example/back"}, "RMALEDGER_PAYMENT_CANCEL_URL=https://shop.example/back", "https://shop.example/back"},
	{"FilesS3Endpoint", []string{"--files-s3-endpoint", "http://minio:9000"}, "RMALEDGER_S3_ENDPOINT=http://minio:9000", "http://minio:9000"},
	{"FilesS3Bucket", []string{"--files-s3-bucket", "claims"}, "RMALEDGER_S3_BUCKET=claims", "claims"},
	{"FilesS3Prefix", []string{"--files-s3-prefix", "rma/"}, "RMALEDGER_S3_PREFIX=rma/", "rma/"},
	{"FilesS3Region", []string{"--files-s3-region", "eu-central-1"}, "RMALEDGER_S3_REGION=eu-central-1", "eu-central-1"},
	{"FilesS3AccessKey", []string{"--files-s3-access-key", "AK"}, "RMALEDGER_S3_ACCESS_KEY=AK", "AK"},
	{"FilesS3SecretKey", []string{"--files-s3-secret-key", "SK"}, "RMALEDGER_S3_SECRET_KEY=SK", "SK"},
	{"FilesMaxBytes", []string{"--files-max-bytes", "2048"}, "RMALEDGER_FILES_MAX_BYTES=2048", int64(2048)},
	{"FilesMaxPerClaim", []string{"--files-max-per-claim", "3"}, "RMALEDGER_FILES_MAX_PER_CLAIM=3", 3},
	{"FilesMaxClaimBytes", []string{"--files-max-claim-bytes", "4096"}, "RMALEDGER_FILES_MAX_CLAIM_BYTES=4096", int64(4096)},
	{"SMTPHost", []string{"--smtp-host", "smtp.example.com"}, "RMALEDGER_SMTP_HOST=smtp.example.com", "smtp.example.com"},
	{"SMTPPort", []string{"--smtp-port", "2525"}, "RMALEDGER_SMTP_PORT=2525", 2525},
	{"SMTPUsername", []string{"--smtp-username", "rma"}, "RMALEDGER_SMTP_USERNAME=rma", "rma"},
	{"SMTPPassword", []string{"--smtp-password", "pw"}, "RMALEDGER_SMTP_PASSWORD=pw", "pw"},
	{"SMTPFrom", []string{"--smtp-from", "rma@example.com"}, "RMALEDGER_SMTP_FROM=rma@example.com", "rma@example.com"},
	{"SMTPStartTLS", []string{"--smtp-starttls", "none"}, "RMALEDGER_SMTP_STARTTLS=none", "none"},
	{"CompanyName", []string{"--company-name", "Acme"}, "RMALEDGER_COMPANY_NAME=Acme", "Acme"},
	{"MailSignature", []string{"--mail-signature", "Acme desk"}, "RMALEDGER_MAIL_SIGNATURE=Acme desk", "Acme desk"},
	{"NotifyTemplates", []string{"--notify-templates", "/etc/rma/templates"}, "RMALEDGER_NOTIFY_TEMPLATES=/etc/rma/templates", "/etc/rma/templates"},
	{"DefaultLanguage", []string{"--default-language", "bg"}, "RMALEDGER_DEFAULT_LANGUAGE=bg", "bg"},
	{"DeskEmail", []string{"--desk-email", "desk@example.com"}, "RMALEDGER_DESK_EMAIL=desk@example.com", "desk@example.com"},
	{"DeskAddresses", []string{"--desk-addresses", "maria=maria@example.com"}, "RMALEDGER_DESK_ADDRESSES=maria=maria@example.com", "maria=maria@example.com"},
	{"SMSURL", []string{"--sms-url", "https://sms.example.com/send"}, "RMALEDGER_SMS_URL=https://sms.example.com/send", "https://sms.example.com/send"},
	{"SMSToken", []string{"--sms-token", "tok"}, "RMALEDGER_SMS_TOKEN=tok", "tok"},
	{"WebhookNetworks", []string{"--webhook-networks", "10.8.0.0/16"}, "RMALEDGER_WEBHOOK_NETWORKS=10.8.0.0/16", "10.8.0.0/16"},
	{"CompanyAddress", []string{"--company-address", `1 Main St\nSofia`}, `RMALEDGER_COMPANY_ADDRESS=1 Main St\nSofia`, `1 Main St\nSofia`},
	{"DocumentsDir", []string{"--documents-dir", "/etc/rma/documents"}, "RMALEDGER_DOCUMENTS_DIR=/etc/rma/documents", "/etc/rma/documents"},
}

// parseConfig parses args and the environment as run does.
func parseConfig(t *testing.T, args ...string) config {
	t.Helper()
	serve, _ := findCommand("serve")
	cfg, _, err := parseCommand(serve, args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return cfg
}

// TestSettingsReachTheirFields: each setting of serve, given as a flag or
// as an RMALEDGER_ variable, sets the same field, away from its default;
// and the table holds every setting config has, so that a new one cannot
// go without its names being checked.
func TestSettingsReachTheirFields(t *testing.T) {
	for _, name := range os.Environ() {
		if k, _, _ := strings.Cut(name, "="); strings.HasPrefix(k, "RMALEDGER_") {
			t.Setenv(k, "") // restored at the end
			os.Unsetenv(k)
		}
	}
	defaults := parseConfig(t)
	listed := map[string]bool{}
	for _, s := range serveSettings {
		listed[s.field] = true
		t.Run(s.field, func(t *testing.T) {
			field := func(c config) any { return reflect.ValueOf(c).FieldByName(s.field).Interface() }
			if reflect.DeepEqual(field(defaults), s.want) {
				t.Fatalf("%v is the default: it proves nothing", s.want)
			}
			if got := field(parseConfig(t, s.flag...)); !reflect.DeepEqual(got, s.want) {
				t.Errorf("%v set %s to %#v, want %#v", s.flag, s.field, got, s.want)
			}
			name, value, _ := strings.Cut(s.env, "=")
			t.Setenv(name, value)
			if got := field(parseConfig(t)); !reflect.DeepEqual(got, s.want) {
				t.Errorf("%s set %s to %#v, want %#v", s.env, s.field, got, s.want)
			}
		})
	}
	typ := reflect.TypeFor[config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "Args" {
			continue // the command's words
		}
		if !listed[f.Name] {
			t.Errorf("setting %s is in no test: add it to serveSettings and prove its behaviour", f.Name)
		}
	}
}

// TestServeSettings starts the service twice in this process, once with
// the defaults and once with settings changed, and shows for each that it
// changes what the service does.
func TestServeSettings(t *testing.T) {
	dir := t.TempDir()
	const (
		financeKey = "finance-key-for-settings-test"
		adminKey   = "admin-key-for-settings-test"
	)
	t.Setenv("GOMEMLIMIT", "") // else --memory-limit yields to it
	t.Setenv("RMALEDGER_API_KEYS", testAgentKey+",finance:"+financeKey+",admin:"+adminKey)

	keysFile := filepath.Join(dir, "etc", "api-keys.json")
	out, err := runInProcess(t, "keys", "add", "--role", "technician", "--name", "desk-1", "--api-keys-file", keysFile, "--data-dir", filepath.Join(dir, "unused"))
	if err != nil {
		t.Fatalf("keys add: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fileKey := lines[len(lines)-1]
	signingKey := filepath.Join(dir, "etc", "signing.pem")
	if out, err := runInProcess(t, "keys", "generate", signingKey, "--data-dir", filepath.Join(dir, "unused")); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}

	baseDir, tunedDir := filepath.Join(dir, "base"), filepath.Join(dir, "tuned")
	keyStore := filepath.Join(dir, "keys", "pii.db")
	debugAddr := freeAddr(t)
	base := serveInProcess(t, "--data-dir", baseDir)
	tuned := serveInProcess(t, "--data-dir", tunedDir,
		"--log-level", "warn", "--log-format", "json", "--api-keys-file", keysFile, "--key-store-file", keyStore,
		"--max-body-bytes", "2048", "--finance-time-zone", "Europe/Sofia", "--trusted-proxies", "127.0.0.1/32",
		"--debug-addr", debugAddr, "--memory-limit", "300MiB", "--signing-key-file", signingKey, "--checkpoint-interval", "1s")
	// Started last, the tuned service's limit is the process's.
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("MemoryLimit: the runtime's soft limit is %d, want 300MiB", got)
	}
	base.waitReady(t)
	tuned.waitReady(t)
	tuned.register(t)
	base.register(t)

	t.Run("APIKeysFile", func(t *testing.T) {
		if code, _ := tuned.request(t, "GET", "/v1/claims", fileKey, ""); code != http.StatusOK {
			t.Errorf("a key of %s: %d", keysFile, code)
		}
		if code, _ := base.request(t, "GET", "/v1/claims", fileKey, ""); code != http.StatusUnauthorized {
			t.Errorf("the default keys file accepts a key of %s: %d", keysFile, code)
		}
	})
	t.Run("KeyStoreFile", func(t *testing.T) {
		if _, err := os.Stat(keyStore); err != nil {
			t.Errorf("the configured key store: %v", err)
		}
		if _, err := os.Stat(filepath.Join(tunedDir, "keys", "pii-keys.db")); err == nil {
			t.Error("a key store in the data directory although --key-store-file names another")
		}
		if _, err := os.Stat(filepath.Join(baseDir, "keys", "pii-keys.db")); err != nil {
			t.Errorf("the default key store: %v", err)
		}
	})
	t.Run("MaxBodyBytes", func(t *testing.T) {
		big := registration + strings.Repeat(" ", 3000) // valid JSON, 3 KiB
		if code, got := tuned.request(t, "POST", "/v1/claims", agentKey, big); code != http.StatusRequestEntityTooLarge {
			t.Errorf("a 3 KiB body with --max-body-bytes 2048: %d %v", code, got)
		}
		if code, got := base.request(t, "POST", "/v1/claims", agentKey, big); code != http.StatusCreated {
			t.Errorf("a 3 KiB body by default: %d %v", code, got)
		}
	})
	t.Run("FinanceTimeZone", func(t *testing.T) {
		from := func(s *served) time.Time {
			code, got := s.request(t, "GET", "/v1/finance/reconciliation?from=2026-03-01", financeKey, "")
			raw, _ := got["from"].(string)
			at, err := time.Parse(time.RFC3339, raw)
			if code != http.StatusOK || err != nil {
				t.Fatalf("reconciliation: %d %v", code, got)
			}
			return at
		}
		sofia, _ := time.LoadLocation("Europe/Sofia")
		if got, want := from(tuned), time.Date(2026, 3, 1, 0, 0, 0, 0, sofia); !got.Equal(want) {
			t.Errorf("from=2026-03-01 in Europe/Sofia starts at %s, want %s", got, want)
		}
		if got, want := from(base), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("from=2026-03-01 by default starts at %s, want %s", got, want)
		}
	})
	t.Run("TrustedProxies", func(t *testing.T) {
		for _, s := range []*served{tuned, base} {
			if code, _ := s.request(t, "GET", "/v1/claims", "not-a-key-of-anyone", "", "X-Forwarded-For", "203.0.113.7"); code != http.StatusUnauthorized {
				t.Fatalf("a wrong key: %d", code)
			}
		}
		if !strings.Contains(tuned.output.String(), `"address":"203.0.113.7"`) {
			t.Errorf("behind a trusted proxy the failure is not logged with the forwarded address:\n%s", tuned.output)
		}
		if !strings.Contains(base.output.String(), "address=127.0.0.1") || strings.Contains(base.output.String(), "203.0.113.7") {
			t.Errorf("with no trusted proxy the forwarded address was believed:\n%s", base.output)
		}
	})
	t.Run("LogLevel", func(t *testing.T) {
		if code, _ := tuned.request(t, "GET", "/v1/claims", "not-a-key-of-anyone", ""); code != http.StatusUnauthorized {
			t.Fatalf("a wrong key: %d", code) // a warning
		}
		if out := tuned.output.String(); strings.Contains(out, `"level":"INFO"`) || !strings.Contains(out, `"level":"WARN"`) {
			t.Errorf("--log-level warn logged info, or no warning:\n%s", out)
		}
		if !strings.Contains(base.output.String(), "level=INFO msg=serving") {
			t.Errorf("the default level does not log the start:\n%s", base.output)
		}
	})
	t.Run("LogFormat", func(t *testing.T) {
		for _, line := range strings.Split(strings.TrimSpace(tuned.output.String()), "\n") {
			var record map[string]any
			if err := json.Unmarshal([]byte(line), &record); err != nil || record["msg"] == nil {
				t.Errorf("--log-format json wrote %q", line)
			}
		}
		if !strings.HasPrefix(base.output.String(), "time=") {
			t.Errorf("the default format is not text:\n%.300s", base.output)
		}
	})
	t.Run("DebugAddr", func(t *testing.T) {
		res, err := noKeepAlive.Get("http://" + debugAddr + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
			t.Errorf("GET /debug/pprof/ on --debug-addr: %d %.200s", res.StatusCode, body)
		}
		if code, _ := tuned.request(t, "GET", "/debug/pprof/", "", ""); code == http.StatusOK {
			t.Errorf("the profiler is on the API's address too: %d", code)
		}
	})
	t.Run("CheckpointInterval", func(t *testing.T) {
		// Events were added; within a few intervals a checkpoint is signed
		// unasked (by default the first comes after 15 minutes).
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, got := tuned.request(t, "GET", "/v1/audit/verify", adminKey, "")
			if n, _ := got["checkpoints"].(float64); code == http.StatusOK && n >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint 10s after events with --checkpoint-interval 1s: %d %v", code, got)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}
