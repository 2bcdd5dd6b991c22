package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfigPrecedence(t *testing.T) {
	serve := command{name: "serve", groups: flagsDB | flagsServe | flagsLog | flagsWriters}
	verify := command{name: "verify", groups: flagsDB | flagsLog}
	tests := []struct {
		name  string
		cmd   command
		env   map[string]string
		args  []string
		check func(c Config) bool
		want  string
	}{
		{"defaults", serve, nil, nil,
			func(c Config) bool {
				return c == Config{DataDir: ".folio", Listen: "127.0.0.1:8080", Migrate: true, ShutdownTimeout: 30 * time.Second, LogLevel: "info", SealInterval: 5 * time.Second, Overlap: true}
			}, "the defaults"},
		{"overlap off from env", serve, map[string]string{"FOLIO_OVERLAP": "false"}, nil,
			func(c Config) bool { return !c.Overlap }, "overlap off"},
		{"env sets", serve, map[string]string{"FOLIO_LISTEN": "127.0.0.1:9000", "FOLIO_DATA_DIR": "/srv/folio", "FOLIO_DEMO": "true", "FOLIO_SHUTDOWN_TIMEOUT": "5s"}, nil,
			func(c Config) bool {
				return c.Listen == "127.0.0.1:9000" && c.DataDir == "/srv/folio" && c.Demo && c.ShutdownTimeout == 5*time.Second
			}, "values from the environment"},
		{"flag wins over env", serve, map[string]string{"FOLIO_LISTEN": "127.0.0.1:9000", "FOLIO_ADMIN_KEY": "env-key-0123456789"},
			[]string{"--listen", "127.0.0.1:9001", "--admin-key", "flag-key-0123456789"},
			func(c Config) bool { return c.Listen == "127.0.0.1:9001" && c.AdminKey == "flag-key-0123456789" }, "the flags' values"},
		{"false flag wins over true env", serve, map[string]string{"FOLIO_DEMO": "1", "FOLIO_MIGRATE": "false"}, []string{"--demo=false", "--migrate"},
			func(c Config) bool { return !c.Demo && c.Migrate }, "demo=false, migrate=true"},
		{"empty env is unset", serve, map[string]string{"FOLIO_LISTEN": ""}, nil,
			func(c Config) bool { return c.Listen == "127.0.0.1:8080" }, "the default listen address"},
		{"url and data dir together", serve, map[string]string{"FOLIO_DATA_DIR": "/tmp/x"}, []string{"--database-url", "postgres://u@db:5432/folio"},
			func(c Config) bool { return c.DatabaseURL == "postgres://u@db:5432/folio" && c.DataDir == "/tmp/x" }, "both kept (the URL is used)"},
		{"url without data dir", serve, nil, []string{"--database-url", "postgres://u@db/folio", "--data-dir", ""},
			func(c Config) bool { return c.DatabaseURL != "" && c.DataDir == "" }, "no data dir needed"},
		{"port zero", serve, nil, []string{"--listen", "127.0.0.1:0"},
			func(c Config) bool { return c.Listen == "127.0.0.1:0" }, "port 0 accepted"},
		{"payout webhook from env", serve, map[string]string{"FOLIO_PAYOUT_WEBHOOK": "https://exchange.example/transfers"}, nil,
			func(c Config) bool { return c.PayoutWebhook == "https://exchange.example/transfers" }, "the webhook URL"},
		{"env of flags a command lacks is ignored", verify, map[string]string{"FOLIO_LISTEN": "not an address", "FOLIO_SHUTDOWN_TIMEOUT": "soon"}, nil,
			func(c Config) bool { return c.Listen == "127.0.0.1:8080" }, "verify ignoring FOLIO_LISTEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseConfig(tt.cmd, tt.args, mapEnv(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("parseConfig(%q, env %v) error: %v", tt.args, tt.env, err)
			}
			if !tt.check(cfg) {
				t.Fatalf("parseConfig(%q, env %v) = %+v, want %s", tt.args, tt.env, cfg, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	serve := command{name: "serve", groups: flagsDB | flagsServe | flagsLog | flagsWriters}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // substring of the error
	}{
		{"listen without port", nil, []string{"--listen", "localhost"}, "listen address"},
		{"listen port too large", nil, []string{"--listen", "127.0.0.1:99999"}, "port must be a number"},
		{"listen named port", nil, []string{"--listen", "127.0.0.1:http"}, "port must be a number"},
		{"listen from env", map[string]string{"FOLIO_LISTEN": "8080"}, nil, "listen address"},
		{"bad database url", nil, []string{"--database-url", "postgres://%zz"}, "database url"},
		{"no url and no data dir", nil, []string{"--data-dir", " "}, "data dir"},
		{"short admin key", map[string]string{"FOLIO_ADMIN_KEY": "secret"}, nil, "admin key"},
		{"admin key with space", nil, []string{"--admin-key", "0123456789 abcdefgh"}, "admin key"},
		{"bad duration in env", map[string]string{"FOLIO_SHUTDOWN_TIMEOUT": "soon"}, nil, "FOLIO_SHUTDOWN_TIMEOUT"},
		{"bad bool in env", map[string]string{"FOLIO_DEMO": "yes please"}, nil, "FOLIO_DEMO"},
		{"negative shutdown timeout", nil, []string{"--shutdown-timeout", "-1s"}, "shutdown timeout"},
		{"bad log level", map[string]string{"FOLIO_LOG_LEVEL": "chatty"}, nil, "log level"},
		{"payout webhook without scheme", nil, []string{"--payout-webhook", "exchange.example/transfers"}, "payout webhook"},
		{"payout webhook not http", map[string]string{"FOLIO_PAYOUT_WEBHOOK": "ftp://exchange.example/x"}, nil, "payout webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseConfig(serve, tt.args, mapEnv(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseConfig(%q, env %v) error = %v, want one mentioning %q", tt.args, tt.env, err, tt.want)
			}
		})
	}

	_, _, err := parseConfig(serve, []string{"--lisen", ":1"}, mapEnv(nil), io.Discard)
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("unknown flag: error %v, want a usageError", err)
	}
}

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v, want nil", err)
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080": "127.0.0.1:8080",
		"0.0.0.0:80":     "127.0.0.1:80",
		"[::]:8080":      "127.0.0.1:8080",
		":8080":          "127.0.0.1:8080",
		"[::1]:8080":     "[::1]:8080",
	} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
