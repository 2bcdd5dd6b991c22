package main

import (
	"errors"
	"flag"

	"fmt"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config is the configuration of every subcommand. Each subcommand reads the
// fields it needs; DefaultConfig gives the defaults, FOLIO_* environment
// variables override them, and flags override both.
type Config struct {
	// DatabaseURL points at an external PostgreSQL or CockroachDB. Empty means
	// the private PostgreSQL cluster kept in DataDir.
	DatabaseURL string
	// DataDir holds the private cluster (DataDir/pgdata) and, for the demo,
	// the admin key (DataDir/admin.key). Ignored when DatabaseURL is set.
	DataDir string
	// Listen is the HTTP address; port 0 picks a free port.
	Listen string
	// AdminKey, when set, is accepted as an admin API key (bootstrap).
	AdminKey string
	// Demo seeds the demo currencies and entries once (serve).
	Demo bool
	// Migrate applies pending migrations when serve starts on DatabaseURL.
	// The private cluster is always migrated.
	Migrate bool
	// ShutdownTimeout bounds how long serve waits for in-flight requests.
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// PayoutWebhook, when set, is the exchange's transfer API: serve hands
	// executed payout batches to it through the outbox, and their payout
	// entries stay pending until it confirms (payouts.Service.Webhook).
	PayoutWebhook string
	// PayoutWebhookSecret, when set, signs every request to PayoutWebhook
	// (Folio-Timestamp, Folio-Signature; package payouts/signing).
	PayoutWebhookSecret string
	// WebhookAllowPrivate lets event webhooks reach internal receivers
	// (loopback, private, link-local addresses): off, POST /v1/webhooks
	// refuses such hosts and deliveries refuse to connect to them
	// (events.RefusedAddress, payouts/webhook.EventSender).
	WebhookAllowPrivate bool
	// Pprof, when set, serves net/http/pprof on this separate address
	// (profiling; keep it on localhost: it is unauthenticated).
	Pprof string
	// JournalShards is the number of journal shards a fresh database gets
	// (0: DefaultJournalShards). A database that has written entries keeps
	// its stored count; serve refuses a different explicit value (change it
	// with `folio journal-shards N`).
	JournalShards int
	// DBMode is the journal writers' transaction mode: "" (auto),
	// "postgres" or "cockroach" (the CockroachDB path, also on PostgreSQL).
	DBMode string
	// SealInterval is how often serve seals the journal when a shard moved
	// (package seal); 0 disables the worker (POST /v1/audit/seals still
	// seals).
	SealInterval time.Duration
	// Overlap has each journal shard's writer prepare its next group of
	// trades while the previous one is being written (ingest.Options.
	// Overlap).
	Overlap bool
	// CheckpointKey is the file of the note signer key that signs the
	// checkpoints; empty: DataDir/checkpoint.key, which serve generates on
	// first start (seal.LoadKey).
	CheckpointKey string
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		DataDir:         ".folio",
		Listen:          "127.0.0.1:8080",
		Migrate:         true,
		ShutdownTimeout: 30 * time.Second,
		LogLevel:        "info",
		SealInterval:    5 * time.Second,
		Overlap:         true,
	}
}

// minAdminKeyLength keeps a bootstrap admin key out of guessing range.
const minAdminKeyLength = 16

// Validate checks the configuration and returns the first problem found.
func (c Config) Validate() error {
	if c.DatabaseURL != "" {
		if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
			return fmt.Errorf("database url: %w", err)
		}
	} else if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("data dir: empty; give --data-dir (or FOLIO_DATA_DIR) or --database-url (or FOLIO_DATABASE_URL)")
	}
	if err := validListen(c.Listen); err != nil {
		return err
	}
	if c.AdminKey != "" && (len(c.AdminKey) < minAdminKeyLength || strings.ContainsFunc(c.AdminKey, isSpaceOrControl)) {
		return fmt.Errorf("admin key: must be at least %d characters without spaces or control characters", minAdminKeyLength)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown timeout: %s must be positive", c.ShutdownTimeout)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.Pprof != "" {
		if err := validListen(c.Pprof); err != nil {
			return fmt.Errorf("pprof: %w", err)
		}
	}
	switch c.DBMode {
	case "", schema.ModePostgres, schema.ModeCockroach:
	default:
		return fmt.Errorf("db mode %q: want postgres or cockroach", c.DBMode)
	}
	if c.SealInterval < 0 {
		return fmt.Errorf("seal interval: %s must not be negative (0 disables the sealing worker)", c.SealInterval)
	}
	if c.JournalShards < 0 || c.JournalShards > ledger.MaxShards {
		return fmt.Errorf("journal shards %d: want 1 to %d", c.JournalShards, ledger.MaxShards)
	}
	if c.PayoutWebhookSecret != "" && (c.PayoutWebhook == "" || len(c.PayoutWebhookSecret) < 16) {
		return errors.New("payout webhook secret: needs --payout-webhook and at least 16 characters")
	}
	if c.PayoutWebhook != "" {
		u, err := url.Parse(c.PayoutWebhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("payout webhook %q: want an absolute http or https URL", c.PayoutWebhook)
		}
	}
	return nil
}

func validListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: want host:port, e.g. 127.0.0.1:8080 or :8080", addr)
	}
	if host != "" && strings.ContainsAny(host, " /") {
		return fmt.Errorf("listen address %q: bad host %q", addr, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("listen address %q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// setting ties a flag to its environment variable.
type setting struct {
	flag, env string
}

// settings lists every flag that an environment variable can set; usage
// prints it as the environment table.
var settings = []setting{
	{"database-url", "FOLIO_DATABASE_URL"},
	{"data-dir", "FOLIO_DATA_DIR"},
	{"listen", "FOLIO_LISTEN"},
	{"admin-key", "FOLIO_ADMIN_KEY"},
	{"demo", "FOLIO_DEMO"},
	{"migrate", "FOLIO_MIGRATE"},
	{"shutdown-timeout", "FOLIO_SHUTDOWN_TIMEOUT"},
	{"log-level", "FOLIO_LOG_LEVEL"},
	{"payout-webhook", "FOLIO_PAYOUT_WEBHOOK"},
	{"payout-webhook-secret", "FOLIO_PAYOUT_WEBHOOK_SECRET"},
	{"pprof", "FOLIO_PPROF"},
	{"webhook-allow-private", "FOLIO_WEBHOOK_ALLOW_PRIVATE"},
	{"journal-shards", "FOLIO_JOURNAL_SHARDS"},
	{"db-mode", "FOLIO_DB_MODE"},
	{"seal-interval", "FOLIO_SEAL_INTERVAL"},
	{"overlap", "FOLIO_OVERLAP"},
	{"checkpoint-key", "FOLIO_CHECKPOINT_KEY"},
}

// Flag groups, registered by the subcommands that use them.
const (
	flagsDB         = 1 << iota // --database-url, --data-dir
	flagsServe                  // --listen, --admin-key, --demo, --migrate, --shutdown-timeout, --payout-webhook
	flagsLog                    // --log-level
	flagsCheckpoint             // --checkpoint-key
	flagsWriters                // --overlap
)

// newFlagSet returns a flag set for subcommand name bound to cfg, with the
// flag groups in groups. Errors and -h go to out.
func newFlagSet(name string, cfg *Config, groups int, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("folio "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	if groups&flagsDB != 0 {
		fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL or CockroachDB URL; empty: the private PostgreSQL in --data-dir")
		fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory of the private PostgreSQL (and the demo admin key)")
		fs.StringVar(&cfg.DBMode, "db-mode", cfg.DBMode, "journal writers' transactions: postgres (READ COMMITTED + row locks), cockroach (SERIALIZABLE + retries, the CockroachDB path); empty: by the database")
	}
	if groups&flagsServe != 0 {
		fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen address (host:port; port 0 picks one)")
		fs.StringVar(&cfg.AdminKey, "admin-key", cfg.AdminKey, "accept this secret as an admin API key (at least 16 characters)")
		fs.BoolVar(&cfg.Demo, "demo", cfg.Demo, "seed demo currencies and entries once and print a ready-to-paste curl session")
		fs.BoolVar(&cfg.Migrate, "migrate", cfg.Migrate, "apply pending migrations at start when --database-url is set (the private PostgreSQL is always migrated)")
		fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long to drain in-flight requests on SIGINT/SIGTERM")
		fs.StringVar(&cfg.Pprof, "pprof", cfg.Pprof, "serve net/http/pprof on this separate address (e.g. 127.0.0.1:6060; unauthenticated: keep it local); empty: off")
		fs.IntVar(&cfg.JournalShards, "journal-shards", cfg.JournalShards, "journal shards of a fresh database (0: the default for this machine); a database with entries keeps its stored count")
		fs.DurationVar(&cfg.SealInterval, "seal-interval", cfg.SealInterval, "seal the journal this often when a shard moved (0: never; POST /v1/audit/seals still seals)")
		fs.StringVar(&cfg.PayoutWebhook, "payout-webhook", cfg.PayoutWebhook, "the exchange's transfer API: executed payout batches are POSTed to it and stay pending until it answers 2xx; empty: payouts post at once")
		fs.BoolVar(&cfg.WebhookAllowPrivate, "webhook-allow-private", cfg.WebhookAllowPrivate, "let event webhooks reach loopback, private and link-local addresses (refused by default: POST /v1/webhooks answers 400, deliveries refuse to connect)")
		fs.StringVar(&cfg.PayoutWebhookSecret, "payout-webhook-secret", cfg.PayoutWebhookSecret, "sign each payout webhook request with this secret (HMAC-SHA256, Folio-Signature header); prefer FOLIO_PAYOUT_WEBHOOK_SECRET")
	}
	if groups&flagsWriters != 0 {
		fs.BoolVar(&cfg.Overlap, "overlap", cfg.Overlap, "each journal shard's writer prepares its next group of trades in a read-only snapshot while the previous group is written, when that does not split groups; false: in the write transaction")
	}
	if groups&flagsCheckpoint != 0 {
		fs.StringVar(&cfg.CheckpointKey, "checkpoint-key", cfg.CheckpointKey, "file of the note signer key (PRIVATE+KEY+...) that signs checkpoints; empty: checkpoint.key in --data-dir, generated by serve on first start")
	}
	if groups&flagsLog != 0 {
		fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn or error")
	}
	return fs
}

// command describes a subcommand's command line for parseConfig.
type command struct {
	name   string                 // "verify", "keys create"
	args   string                 // positional arguments, for the usage line
	groups int                    // flag groups
	flags  func(fs *flag.FlagSet) // registers the command's own flags, or nil
	// quiet makes warn the default log level: one-shot commands print
	// their result on stdout and log only what goes wrong.
	quiet bool
}

// usageError is a flag parsing error, already printed with the usage by the
// flag package.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// parseConfig parses args for cmd: defaults, then the FOLIO_* variables
// found by getenv for flags not given, then the flags. It returns the
// validated config and the remaining arguments. -h returns flag.ErrHelp and
// other flag errors a *usageError, both already printed to out.
func parseConfig(cmd command, args []string, getenv func(string) string, out io.Writer) (Config, []string, error) {
	cfg := DefaultConfig()
	if cmd.quiet {
		cfg.LogLevel = "warn"
	}
	fs := newFlagSet(cmd.name, &cfg, cmd.groups, out)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: folio %s [flags]%s\n\nFlags:\n", cmd.name, cmd.args)
		fs.PrintDefaults()
		printEnv(out, fs)
	}
	var positional []string
	for { // flags may follow positional arguments: folio keys revoke ID --data-dir D
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return Config{}, nil, err
			}
			return Config{}, nil, &usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range settings {
		v := getenv(s.env)
		if v == "" || given[s.flag] || fs.Lookup(s.flag) == nil {
			continue
		}
		if err := fs.Set(s.flag, v); err != nil {
			return Config{}, nil, fmt.Errorf("%s: %w", s.env, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, err
	}
	return cfg, positional, nil
}

// printEnv lists the environment variables of the flags in fs.
func printEnv(out io.Writer, fs *flag.FlagSet) {
	var lines []string
	for _, s := range settings {
		if fs == nil || fs.Lookup(s.flag) != nil {
			lines = append(lines, fmt.Sprintf("  %-24s --%s", s.env, s.flag))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(out, "\nEnvironment (a flag wins over its variable):\n%s\n", strings.Join(lines, "\n"))
	}
}

// checkpointKeyPath is the file of the checkpoint signing key: the flag's,
// or checkpoint.key in the data dir.
func (c Config) checkpointKeyPath() string {
	if c.CheckpointKey != "" {
		return c.CheckpointKey
	}
	return filepath.Join(c.DataDir, "checkpoint.key")
}
