package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/keys"
)

// runKeys runs `folio keys create|list|revoke` against --database-url or
// the private cluster in --data-dir (which may be running under folio
// serve at the same time).
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "Usage: folio keys create --role R [--holder H] [--person P] [--note N] | folio keys list | folio keys revoke ID\n" +
		"('folio keys <subcommand> -h' lists its flags)\n"
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, usage)
		return &exitError{code: exitFailure, err: errors.New("keys: no subcommand"), reported: true}
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	var role, holder, note, person string
	cmd := command{name: "keys " + args[0], groups: flagsDB | flagsLog, quiet: true}
	switch args[0] {
	case "create":
		cmd.flags = func(fs *flag.FlagSet) {
			fs.StringVar(&role, "role", "", "admin, poster, auditor or affiliate (required)")
			fs.StringVar(&holder, "holder", "", "the holder id an affiliate key is scoped to")
			fs.StringVar(&note, "note", "", "free text to recognise the key by")
			fs.StringVar(&person, "person", "", "who holds the key (a label); each key the CLI creates is a person of its own for four-eyes")
		}
	case "list":
	case "revoke":
		cmd.args = " ID"
	default:
		return &exitError{code: exitFailure, err: fmt.Errorf("keys: unknown subcommand %q (want create, list or revoke)", args[0])}
	}
	cfg, rest, err := parseArgs(cmd, args[1:], stderr)
	if err != nil {
		return err
	}
	var id string
	switch {
	case args[0] == "create" && role == "":
		return &exitError{code: exitFailure, err: errors.New("keys create: --role is required (admin, poster, auditor or affiliate)")}
	case args[0] == "revoke" && len(rest) != 1:
		return &exitError{code: exitFailure, err: errors.New("keys revoke: give exactly one key id")}
	case args[0] == "revoke":
		id = rest[0]
	case len(rest) != 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%s: unexpected arguments %q", cmd.name, rest)}
	}

	log := newLogger(stderr, cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, log, openOptions{})
	if err != nil {
		return err
	}
	defer closeDatabase(db, log)

	switch args[0] {
	case "create":
		if holder != "" {
			if _, err := affiliate.NewService(db.App, nil).GetUser(ctx, holder); folio.ErrorCode(err) == folio.ENOTFOUND {
				return &exitError{code: exitFailure, err: fmt.Errorf("keys create: --holder %q is not a registered user", holder)}
			} else if err != nil {
				return fmt.Errorf("keys create: %w", err)
			}
		}
		info, secret, err := keys.Mint(ctx, db.App, keys.NewKey{Role: role, Holder: holder, Note: note, Person: person}, cliActor())
		if err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "id\t%s\nrole\t%s\n", info.ID, info.Role)
		if info.Holder != "" {
			fmt.Fprintf(tw, "holder\t%s\n", info.Holder)
		}
		if info.Person != "" {
			fmt.Fprintf(tw, "person\t%s\n", info.Person)
		}
		fmt.Fprintf(tw, "key\t%s\n", secret)
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, "\nThe key is shown only now: Folio keeps only its hash. Send it as `Authorization: Bearer <key>`.")
		return err
	case "list":
		list, err := keys.List(ctx, db.App)
		if err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tHOLDER\tPERSON\tPERSON ID\tCREATED\tREVOKED\tNOTE")
		for _, k := range list {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Role, orDash(k.Holder), orDash(k.Person), k.PersonID,
				k.CreatedAt.UTC().Format(time.RFC3339), revoked, k.Note)
		}
		return tw.Flush()
	default:
		if err := keys.Revoke(ctx, db.App, id, cliActor()); err != nil {
			return fmt.Errorf("keys revoke: %w", err)
		}
		_, err := fmt.Fprintf(stdout, "revoked %s\n", id)
		return err
	}
}

// cliActor names the operator in the configuration audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
