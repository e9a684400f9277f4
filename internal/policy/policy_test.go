package policy

import (
	"slices"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/storage"
)

func TestScopes(t *testing.T) {
	t.Parallel()
	integration := &storage.Client{Scopes: []string{"market:all", "market:id:*"}, DefaultScopes: []string{"market:all"}}
	sales := &storage.Client{Scopes: []string{"market:id:*"}, RequireScope: true}
	tests := []struct {
		name      string
		c         *storage.Client
		requested []string
		want      []string
		wantCode  string
	}{
		{"defaults", integration, nil, []string{"market:all"}, ""},
		{"wildcard allows", integration, []string{"market:id:xYZkjABcde"}, []string{"market:id:xYZkjABcde"}, ""},
		{"two", integration, []string{"market:all", "market:id:a"}, []string{"market:all", "market:id:a"}, ""},
		{"not allowed", integration, []string{"orders:read"}, nil, oautherr.CodeInvalidScope},
		{"wildcard requested", integration, []string{"market:id:*"}, nil, oautherr.CodeInvalidScope},
		{"too deep", integration, []string{"market:id:a:b"}, nil, oautherr.CodeInvalidScope},
		{"require scope", sales, nil, nil, oautherr.CodeInvalidScope},
		{"sales market", sales, []string{"market:id:xYZkjABcde"}, []string{"market:id:xYZkjABcde"}, ""},
		{"no defaults", &storage.Client{Scopes: []string{"a"}}, nil, nil, ""},
	}
	for _, tt := range tests {
		got, err := Scopes(tt.c, tt.requested)
		if tt.wantCode != "" {
			if err == nil || err.Code != tt.wantCode {
				t.Errorf("%s: error = %v, want %s", tt.name, err, tt.wantCode)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Scopes = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestAudiences(t *testing.T) {
	t.Parallel()
	c := &storage.Client{Audiences: []string{"https://api.example.com", "https://qa-api.example.com"}}
	if got, err := Audiences(c, nil); err != nil || !slices.Equal(got, []string{"https://api.example.com"}) {
		t.Errorf("default = %q, %v", got, err)
	}
	if got, err := Audiences(c, []string{"https://qa-api.example.com"}); err != nil || len(got) != 1 {
		t.Errorf("allowed = %q, %v", got, err)
	}
	if _, err := Audiences(c, []string{"https://api.example.com/x"}); err == nil || err.Code != oautherr.CodeInvalidTarget {
		t.Errorf("prefix of allowed audience accepted: %v", err)
	}
}
