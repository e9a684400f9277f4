package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

const keysUsage = `usage: server keys <command> [flags]
  list                     list the signing keys in the storage, and which signs now
  rotate [-now]            publish a new key, signing key_publish_ahead from now
  retire KID               take a key out of the JWKS at once (its tokens stop verifying)
every command takes -config FILE (rotate and retire need its key_rotation)
or -storage SPEC, and -allow-unsealed-keys as the server does`

// nowHelp says why "keys rotate -now" is not the default.
const nowHelp = "sign with the new key at once instead of after key_publish_ahead. Risky: resource servers that " +
	"cached the JWKS before the key existed refuse its tokens until they re-read it, and so do other " +
	"instances' until they re-read the storage (within a minute); use it when the current key is " +
	"believed stolen, then retire that key once the new one signs everywhere"

// runKeys is "server keys …": the signing keys of the configured storage,
// through the handler's own rotation (the same rules the running
// instances apply), so a key made here is one they agree on.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	if isHelp(args[0]) { // asked for: to stdout, exit 0
		fmt.Fprintln(stdout, keysUsage)
		return nil
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file`: its storage, keys and key_rotation")
	storageFlag := fs.String("storage", "", "sqlite:PATH or postgres://… (default: the config's, else "+defaultStorage+")")
	allowUnsealed := fs.Bool(allowUnsealedFlag, false, "accept keys stored unencrypted, as the server's flag does")
	now := false
	if cmd == "rotate" {
		fs.BoolVar(&now, "now", false, nowHelp)
	}
	pos, err := parseMixed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	switch cmd {
	case "list", "rotate":
		if len(pos) != 0 {
			return fmt.Errorf("keys %s: unexpected argument %q", cmd, pos[0])
		}
	case "retire":
		if len(pos) != 1 {
			return errors.New("usage: server keys retire KID")
		}
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, keysUsage)
	}
	cfg := &fileConfig{}
	if *configPath != "" {
		if cfg, err = loadConfig(*configPath); err != nil {
			return err
		}
	}
	spec, _, err := adminStorage(*configPath, *storageFlag)
	if err != nil {
		return err
	}
	store, closeStore, err := openStorage(ctx, spec)
	if err != nil {
		return err
	}
	defer closeStore()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	seal, err := resolveSealing(ctx, spec, store, *allowUnsealed, logger)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	signing, err := cfg.signingKeys()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	srv, err := handler.New(handler.Config{
		// The issuer names no token here: nothing is served.
		Issuer: "http://keys.invalid", Clients: store, Tokens: store, KeyStore: store, KeyEncryptionKey: seal.kek,
		Keys:        signing,
		KeyRotation: handler.KeyRotation{Every: time.Duration(cfg.KeyRotation), PublishAhead: time.Duration(cfg.KeyPublishAhead)},
		Logger:      logger,
	})
	if errors.Is(err, handler.ErrKeyEncryptionKey) {
		return fmt.Errorf("signing keys: %w (the key-encryption key is read from %s)", err, seal.source)
	}
	if err != nil {
		return err
	}
	defer srv.Close()

	switch cmd {
	case "rotate":
		var at time.Time
		if now {
			at = time.Now()
		}
		k, err := srv.RotateKeys(ctx, at)
		if err != nil {
			return keysError(cmd, err)
		}
		fmt.Fprintf(stdout, "new signing key %s (%s), published now, signs from %s\n", k.ID, k.Algorithm, k.ActiveFrom.UTC().Format(time.RFC3339))
		return nil
	case "retire":
		if err := srv.RetireKey(ctx, pos[0]); err != nil {
			return keysError(cmd, err)
		}
		fmt.Fprintf(stdout, "retired signing key %s: it leaves every instance's JWKS within a minute\n", pos[0])
		return nil
	}
	return listKeys(ctx, srv, stdout)
}

// keysError names the YAML key when rotation is off.
func keysError(cmd string, err error) error {
	if errors.Is(err, handler.ErrRotationOff) {
		return fmt.Errorf("keys %s: key_rotation is not set in the config (-config FILE): the servers would neither sign with nor retire keys by schedule", cmd)
	}
	return fmt.Errorf("keys %s: %w", cmd, err)
}

func listKeys(ctx context.Context, srv *handler.Server, stdout io.Writer) error {
	list, err := srv.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys list: %w", err)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tSIGNS FROM\tSTATE")
	for _, k := range list {
		state := "published"
		switch {
		case !k.RetiredAt.IsZero():
			state = "retired " + k.RetiredAt.UTC().Format(time.RFC3339)
		case k.Signing:
			state = "signing"
		case k.ActiveFrom.After(now):
			state = "published, next"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.UTC().Format(time.RFC3339),
			k.ActiveFrom.UTC().Format(time.RFC3339), state)
	}
	return tw.Flush()
}
