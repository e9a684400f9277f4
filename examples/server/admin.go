package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

const clientsUsage = `usage: server clients <command> [flags]
  list                     list the clients in the storage
  add -id ID [flags]       add a client; prints its generated secret once
  rotate-secret ID         give a confidential client a new secret; prints it once
  delete ID                delete a client
every command takes -storage (memory is refused) or -config FILE`

// runClients is "server clients …": client management against the
// configured storage, without editing YAML. Generated secrets are printed
// once and stored only as hashes.
func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(clientsUsage)
	}
	if isHelp(args[0]) { // asked for: to stdout, exit 0
		fmt.Fprintln(stdout, clientsUsage)
		return nil
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("clients "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file` whose storage to use")
	storageFlag := fs.String("storage", "", "sqlite:PATH or postgres://… (default "+defaultStorage+")")
	var c storage.Client
	var grants, scopes, defaults, auds, redirects csv
	var atTTL, rtTTL time.Duration
	if cmd == "add" {
		fs.StringVar(&c.ID, "id", "", "client id (required)")
		fs.BoolVar(&c.Public, "public", false, "public client: no secret")
		fs.Var(&grants, "grant-types", "comma-separated grant types (default client_credentials)")
		fs.Var(&scopes, "scopes", "comma-separated allowed scopes (\"*\" segments allowed)")
		fs.Var(&defaults, "default-scopes", "comma-separated scopes granted when none is asked for")
		fs.BoolVar(&c.RequireScope, "require-scope", false, "refuse requests that name no scope")
		fs.BoolVar(&c.Introspector, "introspector", false, "may introspect any token (a resource server); default: only its own")
		fs.Var(&auds, "audiences", "comma-separated audiences (required; the first is the default)")
		fs.Var(&redirects, "redirect-uris", "comma-separated redirect URIs (authorization_code)")
		fs.DurationVar(&atTTL, "access-token-ttl", 0, "access token lifetime (default: the server's)")
		fs.DurationVar(&rtTTL, "refresh-token-ttl", 0, "refresh token lifetime (default: the server's)")
	}
	// The command and its arguments are checked before any storage is
	// opened (or created).
	pos, err := parseMixed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	switch cmd {
	case "list", "add":
		if len(pos) != 0 {
			return fmt.Errorf("clients %s: unexpected argument %q", cmd, pos[0])
		}
	case "rotate-secret", "delete":
		if len(pos) != 1 {
			return fmt.Errorf("usage: server clients %s ID", cmd)
		}
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, clientsUsage)
	}
	spec, users, err := adminStorage(*configPath, *storageFlag)
	if err != nil {
		return err
	}
	if cmd == "add" {
		// The server would refuse to start with this client next to a
		// user of the same name.
		if err := checkSubjects(users, func(id string) (string, bool) { return "the id of this new client", id == c.ID }); err != nil {
			return fmt.Errorf("clients add: config %s: %w", *configPath, err)
		}
	}
	store, closeStore, err := openStorage(ctx, spec)
	if err != nil {
		return err
	}
	defer closeStore()
	// Every change is an audit record on stderr, in the handler's schema:
	// the handler never writes clients, so it cannot record them itself.
	audit := func(event, id string) {
		handler.AuditEvent{Event: event, ClientID: id, Reason: "cli"}.Log(ctx, slog.New(slog.NewTextHandler(stderr, nil)))
	}

	switch cmd {
	case "list":
		return listClients(ctx, store, stdout)
	case "add":
		c.GrantTypes, c.Scopes, c.DefaultScopes, c.Audiences, c.RedirectURIs = grants, scopes, defaults, auds, redirects
		if len(c.GrantTypes) == 0 {
			c.GrantTypes = []string{storage.GrantClientCredentials}
		}
		c.AccessTokenTTL, c.RefreshTokenTTL = atTTL, rtTTL
		note, err := defaultScopes(&c)
		if err != nil {
			return fmt.Errorf("clients add: %w", err)
		}
		secret := ""
		if !c.Public {
			if secret, c.SecretHash, err = handler.GenerateClientSecret(); err != nil {
				return err
			}
		}
		// The demo registers no extension grant: only the standard types
		// would work, so refuse others now rather than at the first request.
		if err := c.CheckGrantTypes(storage.StandardGrantTypes); err != nil {
			return fmt.Errorf("clients add: %w", err)
		}
		if err := store.CreateClient(ctx, &c); err != nil {
			return fmt.Errorf("clients add: %w", err)
		}
		audit(handler.AuditClientAdded, c.ID)
		fmt.Fprintf(stdout, "added client %s\n", c.ID)
		if note != "" {
			fmt.Fprintln(stdout, note)
		}
		if secret != "" {
			fmt.Fprintf(stdout, "client_secret: %s\n(printed once: only its hash is stored)\n", secret)
		}
		return nil
	case "rotate-secret", "delete":
		id := pos[0]
		if cmd == "delete" {
			if err := store.DeleteClient(ctx, id); err != nil {
				return fmt.Errorf("clients delete: %w", err)
			}
			audit(handler.AuditClientDeleted, id)
			fmt.Fprintf(stdout, "deleted client %s\n", id)
			return nil
		}
		if err := rotateSecret(ctx, store, id, stdout); err != nil {
			return err
		}
		audit(handler.AuditClientChanged, id)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, clientsUsage)
}

// defaultScopes fills in a new client's default scopes when none were
// given, so that a request naming no scope does not get a token with
// "scope":"": the concrete scopes of -scopes become the defaults (and the
// note says so). A client that must name its scope (-require-scope) needs
// none; one with only patterns is refused with the reason, and one with
// no scopes at all is told what its tokens will say.
func defaultScopes(c *storage.Client) (note string, err error) {
	if len(c.DefaultScopes) > 0 || c.RequireScope {
		return "", nil
	}
	if len(c.Scopes) == 0 {
		return `no -scopes: the client's tokens carry no scope ("scope":""); the audience alone says what they are for`, nil
	}
	for _, sc := range c.Scopes {
		if !strings.Contains(sc, "*") {
			c.DefaultScopes = append(c.DefaultScopes, sc)
		}
	}
	if len(c.DefaultScopes) == 0 {
		return "", fmt.Errorf("-scopes %s are all patterns, which a request must name: add -require-scope, or give -default-scopes",
			strings.Join(c.Scopes, ","))
	}
	return fmt.Sprintf("default_scopes: %s (every concrete scope; choose others with -default-scopes)", strings.Join(c.DefaultScopes, ",")), nil
}

func rotateSecret(ctx context.Context, store storage.ClientStore, id string, stdout io.Writer) error {
	c, err := store.GetClient(ctx, id)
	if err != nil {
		return fmt.Errorf("clients rotate-secret: %w", err)
	}
	if c.Public {
		return fmt.Errorf("clients rotate-secret: %s is a public client: it has no secret", id)
	}
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		return err
	}
	upd := c.Clone()
	upd.SecretHash = hash
	if err := store.UpdateClient(ctx, upd); err != nil {
		return fmt.Errorf("clients rotate-secret: %w", err)
	}
	fmt.Fprintf(stdout, "client_secret: %s\n(printed once; the old secret no longer works)\n", secret)
	return nil
}

func listClients(ctx context.Context, store storage.ClientStore, stdout io.Writer) error {
	list, err := store.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("clients list: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tGRANT TYPES\tSCOPES\tAUDIENCES")
	for _, c := range list {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		if c.Introspector {
			kind += ",introspector"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, kind, strings.Join(c.GrantTypes, ","),
			strings.Join(c.Scopes, ","), strings.Join(c.Audiences, ","))
	}
	return tw.Flush()
}

// adminStorage is the storage the admin commands work on: the flag, else
// the config's, else the default; never memory, which would hold nothing.
// users are the config's, if one is named.
func adminStorage(configPath, flagValue string) (spec string, users []userConfig, err error) {
	spec = flagValue
	if configPath != "" {
		cfg, err := loadConfig(configPath)
		if err != nil {
			return "", nil, err
		}
		users = cfg.Users
		if spec == "" {
			spec = cfg.Storage
		}
	}
	if spec == "" {
		spec = defaultStorage
	}
	if spec == "memory" {
		return "", nil, errors.New("clients: the storage is memory, which keeps nothing between runs: name sqlite:PATH or postgres://…")
	}
	return spec, users, checkStorage(spec)
}

// parseMixed parses flags that may follow the positional arguments too
// ("rotate-secret ID -storage SPEC"): it parses on after each one, and
// returns them.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

// csv is a flag holding a comma-separated list.
type csv []string

func (c *csv) String() string { return strings.Join(*c, ",") }

func (c *csv) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*c = append(*c, part)
		}
	}
	return nil
}
