package sqlstore

import (
	"slices"
	"testing"
)

// TestPendingAppliesEveryMissingVersion: a database that ran a higher
// migration first (its branch merged earlier) still gets the lower one.
func TestPendingAppliesEveryMissingVersion(t *testing.T) {
	ms := []migration{{version: 1}, {version: 3}, {version: 4}, {version: 5}, {version: 6}}
	for _, tt := range []struct {
		applied    []int
		want       []int
		wantNewest int
	}{
		{nil, []int{1, 3, 4, 5, 6}, 0},
		{[]int{1, 3, 4}, []int{5, 6}, 4},
		{[]int{1, 3, 4, 6}, []int{5}, 6},
		{[]int{1, 3, 4, 5, 6}, nil, 6},
		{[]int{1, 3, 4, 5, 6, 9}, nil, 9},
	} {
		applied := map[int]bool{}
		for _, v := range tt.applied {
			applied[v] = true
		}
		todo, newest := pending(ms, applied)
		var got []int
		for _, m := range todo {
			got = append(got, m.version)
		}
		if !slices.Equal(got, tt.want) || newest != tt.wantNewest {
			t.Errorf("pending(applied %v) = %v, newest %d; want %v, newest %d", tt.applied, got, newest, tt.want, tt.wantNewest)
		}
	}
}

// TestOnlyPicksTheEngine: a marked statement runs on its engine alone.
func TestOnlyPicksTheEngine(t *testing.T) {
	for _, tt := range []struct {
		stmt   string
		d      dialect
		want   string
		wantOK bool
	}{
		{"CREATE TABLE x (id INTEGER)", sqlite, "CREATE TABLE x (id INTEGER)", true},
		{"CREATE TABLE x (id INTEGER)", postgres, "CREATE TABLE x (id INTEGER)", true},
		{"{{SQLITE}} CREATE TRIGGER t", sqlite, "CREATE TRIGGER t", true},
		{"{{SQLITE}} CREATE TRIGGER t", postgres, "CREATE TRIGGER t", false},
		{"{{POSTGRES}} CREATE FUNCTION f", postgres, "CREATE FUNCTION f", true},
		{"{{POSTGRES}} CREATE FUNCTION f", sqlite, "CREATE FUNCTION f", false},
	} {
		got, ok := tt.d.only(tt.stmt)
		if ok != tt.wantOK || ok && got != tt.want {
			t.Errorf("%v.only(%q) = %q, %v; want %q, %v", tt.d, tt.stmt, got, ok, tt.want, tt.wantOK)
		}
	}
}
