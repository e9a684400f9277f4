package storage

import (
	"fmt"
	"slices"
)

// StandardGrantTypes are the grant types tollgate implements itself.
// Others a client lists are extension grants (RFC 6749 §4.5), which a
// server knows only once they are registered with it (handler's
// Config.Grants).
var StandardGrantTypes = []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken}

// unsupportedGrantTypes are grant types of other specifications that
// tollgate deliberately does not implement, with the reason a client
// registration naming one is refused.
var unsupportedGrantTypes = map[string]string{
	"password": "the resource owner password grant is not supported (RFC 9700 §2.4 forbids it)",
	"implicit": "the implicit grant is not supported (RFC 9700 §2.1.2); use authorization_code with PKCE",
	"token":    `"token" is a response type of the implicit flow, not a grant type; use authorization_code with PKCE`,
	"code":     `"code" is a response type; the grant type is authorization_code`,
}

// checkGrantTypeName refuses a grant type that is certainly a mistake,
// whatever the server registers: a grant tollgate does not implement, or
// a near miss of a standard one (an edit or two away). Other names may be
// extension grants; CheckGrantTypes decides those against a server.
func checkGrantTypeName(gt string) error {
	if why, ok := unsupportedGrantTypes[gt]; ok {
		return fmt.Errorf("%q: %s", gt, why)
	}
	if slices.Contains(StandardGrantTypes, gt) {
		return nil
	}
	if near := nearest(gt, StandardGrantTypes, 2); near != "" {
		return fmt.Errorf("%q is not a grant type; did you mean %q?", gt, near)
	}
	return nil
}

// CheckGrantTypes refuses every grant type of c that is not in supported
// (what a server implements: StandardGrantTypes, or a handler's own list
// with its extension grants), suggesting the nearest supported name. A
// server calls it on the clients it is given, since Validate cannot know
// what the server registers.
func (c *Client) CheckGrantTypes(supported []string) error {
	for i, gt := range c.GrantTypes {
		if slices.Contains(supported, gt) {
			continue
		}
		field := fmt.Sprintf("grant_types[%d]", i)
		if err := checkGrantTypeName(gt); err != nil {
			return invalid(field, "%v", err)
		}
		if slices.Contains(StandardGrantTypes, gt) {
			// authorization_code on a handler without Config.Login.
			return invalid(field, "%q is not enabled on this server", gt)
		}
		if near := nearest(gt, supported, 3); near != "" {
			return invalid(field, "%q is not a grant type this server supports; did you mean %q?", gt, near)
		}
		return invalid(field, "%q is not a grant type this server supports (it supports %q; an extension grant must be registered first)", gt, supported)
	}
	return nil
}

// nearest returns the candidate closest to s by edit distance, if within
// max edits; "" otherwise.
func nearest(s string, candidates []string, max int) string {
	best, bestD := "", max+1
	for _, c := range candidates {
		if d := editDistance(s, c, bestD); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or any value >=
// limit once it is certain to reach limit (names here are short, and
// only close ones matter).
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
