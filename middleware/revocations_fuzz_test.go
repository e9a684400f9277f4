package middleware

import (
	stdjson "encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
)

// feedSample is a feed page body and whether parseFeedPage accepts it.
type feedSample struct {
	name string
	body string
	ok   bool
}

// feedSamples are the parser's table and the fuzz seeds; the refused ones
// are also served over HTTP by TestRevocationsHostileFeed.
var feedSamples = func() []feedSample {
	entry := func(members string) string { return `{"cursor":"e1.9","revoked":[` + members + `]}` }
	long := strings.Repeat("j", maxIDBytes+1)
	return []feedSample{
		{"contract example", `{"cursor":"e1.2","reset":false,"more":false,"revoked":[{"jti":"a","exp":1795435200},{"grant_id":"g","exp":1795438800}]}`, true},
		{"empty list", `{"cursor":"e1.0","reset":true,"more":false,"revoked":[]}`, true},
		{"only a cursor", `{"cursor":"e1.0"}`, true},
		{"revoked in other case", `{"cursor":"e1.0","Revoked":[{"jti":"a","exp":1795435200}]}`, false},
		{"revoked with a Kelvin sign", "{\"cursor\":\"e1.0\",\"revo\u212aed\":[{\"jti\":\"a\",\"exp\":1795435200}]}", false},
		{"jti in other case", entry(`{"JTI":"a","grant_id":"g","exp":1795435200}`), false},
		{"revoked null", `{"cursor":"e1.0","revoked":null}`, true},
		{"jti and grant_id in one entry", entry(`{"jti":"a","grant_id":"g","exp":1795435200}`), true},
		{"unknown members", `{"cursor":"e1.1","x":{"y":[1,2]},"revoked":[{"jti":"a","exp":1,"note":"z"}]}`, true},
		{"reset null", `{"cursor":"e1.1","reset":null,"revoked":[]}`, true},
		{"id at the length limit", entry(`{"jti":"` + long[1:] + `","exp":1}`), true},
		{"exp at the bound", entry(`{"jti":"a","exp":100000000000}`), true},
		{"more with entries", `{"cursor":"e1.1","more":true,"revoked":[{"jti":"a","exp":1}]}`, true},

		{"empty body", ``, false},
		{"null", `null`, false},
		{"array", `[]`, false},
		{"string", `"cursor"`, false},
		{"truncated", `{"cursor":"e1.1","revoked":[{"jti":"a"`, false},
		{"trailing data", `{"cursor":"e1.1"}{}`, false},
		{"html", `<html>maintenance</html>`, false},
		{"no cursor", `{"revoked":[]}`, false},
		{"cursor in another case", `{"Cursor":"e1.1","revoked":[]}`, false},
		{"cursor a number", `{"cursor":1,"revoked":[]}`, false},
		{"cursor empty", `{"cursor":"","revoked":[]}`, false},
		{"cursor with a space", `{"cursor":"e1 1","revoked":[]}`, false},
		{"cursor with a control character", `{"cursor":"e1\u0000","revoked":[]}`, false},
		{"cursor not ASCII", `{"cursor":"é1.1","revoked":[]}`, false},
		{"cursor too long", `{"cursor":"` + strings.Repeat("c", maxCursorBytes+1) + `","revoked":[]}`, false},
		{"cursor twice", `{"cursor":"e1.1","cursor":"e1.2","revoked":[]}`, false},
		{"reset a string", `{"cursor":"e1.1","reset":"yes","revoked":[]}`, false},
		{"more a number", `{"cursor":"e1.1","more":1,"revoked":[]}`, false},
		{"revoked an object", `{"cursor":"e1.1","revoked":{}}`, false},
		{"revoked a string", `{"cursor":"e1.1","revoked":"a"}`, false},
		{"entry null", entry(`null`), false},
		{"entry a string", entry(`"a"`), false},
		{"entry without an id", entry(`{"exp":1795435200}`), false},
		{"entry with empty ids", entry(`{"jti":"","grant_id":"","exp":1795435200}`), false},
		{"jti in another case", entry(`{"JTI":"a","exp":1795435200}`), false},
		{"jti a number", entry(`{"jti":1,"exp":1795435200}`), false},
		{"grant_id an array", entry(`{"grant_id":["g"],"exp":1795435200}`), false},
		{"jti twice", entry(`{"jti":"a","jti":"b","exp":1795435200}`), false},
		{"jti invalid UTF-8", entry("{\"jti\":\"a\xff\",\"exp\":1795435200}"), false},
		{"jti too long", entry(`{"jti":"` + long + `","exp":1795435200}`), false},
		{"no exp", entry(`{"jti":"a"}`), false},
		{"exp null", entry(`{"jti":"a","exp":null}`), false},
		{"exp a string", entry(`{"jti":"a","exp":"1795435200"}`), false},
		{"exp zero", entry(`{"jti":"a","exp":0}`), false},
		{"exp negative", entry(`{"jti":"a","exp":-1}`), false},
		{"exp fractional", entry(`{"jti":"a","exp":1795435200.5}`), false},
		{"exp huge", entry(`{"jti":"a","exp":1e300}`), false},
		{"exp past the bound", entry(`{"jti":"a","exp":100000000001}`), false},
		{"more without entries", `{"cursor":"e1.1","more":true,"revoked":[]}`, false},
		{"deep nesting", `{"cursor":"e1.1","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, false},
	}
}()

func TestParseFeedPage(t *testing.T) {
	t.Parallel()
	for _, s := range feedSamples {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			p, err := parseFeedPage([]byte(s.body))
			if (err == nil) != s.ok {
				t.Fatalf("accepted %v (error %v), want %v", err == nil, err, s.ok)
			}
			if err == nil {
				checkFeedPage(t, []byte(s.body), p)
			}
		})
	}
	p, err := parseFeedPage([]byte(feedSamples[0].body))
	if err != nil {
		t.Fatal(err)
	}
	want := feedPage{Cursor: "e1.2", Revoked: []feedEntry{{JTI: "a", Exp: 1795435200}, {GrantID: "g", Exp: 1795438800}}}
	if p.Cursor != want.Cursor || p.Reset || p.More || len(p.Revoked) != 2 || p.Revoked[0] != want.Revoked[0] || p.Revoked[1] != want.Revoked[1] {
		t.Errorf("parsed %+v, want %+v", p, want)
	}
}

// FuzzParseFeedPage: parseFeedPage never panics, and what it accepts is
// well formed, agrees with encoding/json's reading of the same bytes, and
// survives a round trip.
func FuzzParseFeedPage(f *testing.F) {
	for _, s := range feedSamples {
		f.Add([]byte(s.body))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseFeedPage(data)
		if err != nil {
			if p != nil {
				t.Fatalf("a page and an error %v together", err)
			}
			return
		}
		checkFeedPage(t, data, p)
	})
}

// checkFeedPage checks an accepted page.
func checkFeedPage(t *testing.T, data []byte, p *feedPage) {
	t.Helper()
	if !validCursor(p.Cursor) || (p.More && len(p.Revoked) == 0) {
		t.Fatalf("accepted cursor %q, more %v with %d entries", p.Cursor, p.More, len(p.Revoked))
	}
	for i, e := range p.Revoked {
		if (e.JTI == "" && e.GrantID == "") || len(e.JTI) > maxIDBytes || len(e.GrantID) > maxIDBytes ||
			!utf8.ValidString(e.JTI) || !utf8.ValidString(e.GrantID) || e.Exp <= 0 || e.Exp > maxFeedExp {
			t.Fatalf("accepted entry %d: %+v", i, e)
		}
	}
	// An independent reading: the lenient encoding/json must read the same.
	var doc struct {
		Cursor  string           `json:"cursor"`
		Revoked []map[string]any `json:"revoked"`
	}
	if err := stdjson.Unmarshal(data, &doc); err != nil {
		t.Fatalf("accepted a page encoding/json cannot read: %v", err)
	}
	if doc.Cursor != p.Cursor || len(doc.Revoked) != len(p.Revoked) {
		t.Fatalf("encoding/json reads cursor %q and %d entries, the parser %q and %d", doc.Cursor, len(doc.Revoked), p.Cursor, len(p.Revoked))
	}
	for i, m := range doc.Revoked {
		jti, _ := m["jti"].(string)
		grant, _ := m["grant_id"].(string)
		exp, _ := m["exp"].(float64)
		if e := p.Revoked[i]; jti != e.JTI || grant != e.GrantID || exp != float64(e.Exp) {
			t.Fatalf("entry %d: encoding/json reads %v, the parser %+v", i, m, e)
		}
	}
	// The same page, written out again, reads the same.
	type entry struct {
		JTI     string `json:"jti,omitempty"`
		GrantID string `json:"grant_id,omitempty"`
		Exp     int64  `json:"exp"`
	}
	out := struct {
		Cursor  string  `json:"cursor"`
		Reset   bool    `json:"reset"`
		More    bool    `json:"more"`
		Revoked []entry `json:"revoked"`
	}{Cursor: p.Cursor, Reset: p.Reset, More: p.More}
	for _, e := range p.Revoked {
		out.Revoked = append(out.Revoked, entry(e))
	}
	again, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	q, err := parseFeedPage(again)
	if err != nil || q.Cursor != p.Cursor || q.Reset != p.Reset || q.More != p.More || len(q.Revoked) != len(p.Revoked) {
		t.Fatalf("round trip: %+v, %v; want %+v", q, err, p)
	}
	for i := range q.Revoked {
		if q.Revoked[i] != p.Revoked[i] {
			t.Fatalf("round trip entry %d: %+v, want %+v", i, q.Revoked[i], p.Revoked[i])
		}
	}
}
