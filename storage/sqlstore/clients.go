package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

const clientColumns = `id, secret_hash, public, require_scope, grant_types, scopes, default_scopes,
	audiences, redirect_uris, access_token_ttl, refresh_token_ttl, introspector`

// clientRow is a client as its columns hold it: lists as JSON.
func clientArgs(c *storage.Client) ([]any, error) {
	lists := make([]any, 0, 5)
	for _, l := range [][]string{c.GrantTypes, c.Scopes, c.DefaultScopes, c.Audiences, c.RedirectURIs} {
		b, err := json.Marshal(nonNil(l))
		if err != nil {
			return nil, err
		}
		lists = append(lists, string(b))
	}
	return append([]any{c.ID, c.SecretHash, c.Public, c.RequireScope}, append(lists,
		int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL), c.Introspector)...), nil
}

func scanClient(row interface{ Scan(...any) error }) (*storage.Client, error) {
	var (
		c                                   storage.Client
		grants, scopes, defaults, auds, rus string
		atTTL, rtTTL                        int64
	)
	if err := row.Scan(&c.ID, &c.SecretHash, &c.Public, &c.RequireScope, &grants, &scopes, &defaults,
		&auds, &rus, &atTTL, &rtTTL, &c.Introspector); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		raw string
		dst *[]string
	}{{grants, &c.GrantTypes}, {scopes, &c.Scopes}, {defaults, &c.DefaultScopes}, {auds, &c.Audiences}, {rus, &c.RedirectURIs}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return nil, fmt.Errorf("client %q: %w", c.ID, err)
		}
		if len(*f.dst) == 0 {
			*f.dst = nil
		}
	}
	c.AccessTokenTTL, c.RefreshTokenTTL = time.Duration(atTTL), time.Duration(rtTTL)
	return &c, nil
}

// GetClient implements storage.ClientGetter.
func (s *Store) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	c, err := scanClient(s.db.QueryRowContext(ctx, s.d.q("SELECT "+clientColumns+" FROM tollgate_clients WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("client %q: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fail("reading a client", err)
	}
	return c, nil
}

// CreateClient implements storage.ClientStore.
func (s *Store) CreateClient(ctx context.Context, c *storage.Client) error {
	if err := c.Validate(); err != nil {
		return err
	}
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	defer s.clientWrites.Add(1)
	_, err = s.db.ExecContext(ctx, s.d.q("INSERT INTO tollgate_clients ("+clientColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), args...)
	if isDuplicate(err) {
		return fmt.Errorf("client %q: %w", c.ID, storage.ErrAlreadyExists)
	}
	if err != nil {
		return fail("creating a client", err)
	}
	return nil
}

// UpdateClient implements storage.ClientStore.
func (s *Store) UpdateClient(ctx context.Context, c *storage.Client) error {
	if err := c.Validate(); err != nil {
		return err
	}
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	defer s.clientWrites.Add(1)
	res, err := s.db.ExecContext(ctx, s.d.q(`UPDATE tollgate_clients SET secret_hash = ?, public = ?, require_scope = ?,
		grant_types = ?, scopes = ?, default_scopes = ?, audiences = ?, redirect_uris = ?,
		access_token_ttl = ?, refresh_token_ttl = ?, introspector = ? WHERE id = ?`), append(args[1:], args[0])...)
	if err != nil {
		return fail("updating a client", err)
	}
	return oneRow(res, fmt.Sprintf("client %q", c.ID))
}

// DeleteClient implements storage.ClientStore.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	defer s.clientWrites.Add(1)
	res, err := s.db.ExecContext(ctx, s.d.q("DELETE FROM tollgate_clients WHERE id = ?"), id)
	if err != nil {
		return fail("deleting a client", err)
	}
	return oneRow(res, fmt.Sprintf("client %q", id))
}

// ClientsVersion implements storage.ClientChanges: the counter that
// migration 0006's triggers bump in the transaction of every change to
// tollgate_clients, whoever makes it. One primary-key read.
func (s *Store) ClientsVersion(ctx context.Context) (uint64, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var v int64
	if err := s.db.QueryRowContext(ctx, "SELECT version FROM tollgate_clients_version WHERE id = 1").Scan(&v); err != nil {
		return 0, fail("reading the clients' version", err)
	}
	return uint64(v), nil
}

// ClientsWritten implements storage.ClientChanges. The count grows when
// the write's statement has returned (committed or failed), before the
// method does.
func (s *Store) ClientsWritten() uint64 { return s.clientWrites.Load() }

// ListClients implements storage.ClientStore.
func (s *Store) ListClients(ctx context.Context) ([]*storage.Client, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT "+clientColumns+" FROM tollgate_clients ORDER BY id")
	if err != nil {
		return nil, fail("listing clients", err)
	}
	defer rows.Close()
	out := []*storage.Client{}
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fail("listing clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("listing clients", err)
	}
	return out, nil
}

// oneRow turns "no row changed" into ErrNotFound.
func oneRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fail(what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, storage.ErrNotFound)
	}
	return nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
