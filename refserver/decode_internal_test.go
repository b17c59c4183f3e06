package refserver

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestCheckJSON(t *testing.T) {
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":1}]}`, true},
		{`{"a":"\ud83d\ude00"}`, true}, // a surrogate pair is fine
		{`{"a":"\\ud800"}`, true},      // an escaped backslash, not an escape
		{`{"a":1,"a":2}`, false},
		{`{"label":1,"Label":2}`, false},
		{`{"k":1,"K":2}`, false},
		{`{"s":1,"ſ":2}`, false}, // encoding/json folds the long s to s
		{`{"b":{"x":1,"x":2}}`, false},
		{`{"a":"\ud800"}`, false},
		{`{"a":"\udc00\ud800"}`, false},
		{`{"a":"\ud800\u0041"}`, false},
		{"{\"a\":\"\xff\"}", false},
		{`{"a":` + strings.Repeat("[", 17) + strings.Repeat("]", 17) + `}`, false},
	} {
		err := checkJSON([]byte(c.body))
		if c.ok {
			require.NoError(t, err, c.body)
		} else {
			require.Error(t, err, c.body)
			require.NotContains(t, err.Error(), c.body)
		}
	}
}

// FuzzCheckJSON: checkJSON never panics, and what it accepts decodes with
// no key lost to a duplicate and no character replaced.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"A":2}`, `{"a":"\ud800"}`, `[[[]]]`, `{"a":{"b":[1,{"c":"d"}]}}`, "{\"\xff\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkJSON(b) != nil || !json.Valid(b) {
			return
		}
		if !utf8.Valid(b) {
			t.Fatal("accepted invalid UTF-8")
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return
		}
		if strings.ContainsRune(string(mustMarshal(t, v)), utf8.RuneError) && !bytes.Contains(b, []byte("\\ufffd")) && !bytes.ContainsRune(b, utf8.RuneError) {
			t.Fatalf("accepted %q, which decodes with a replacement character", b)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		type frame struct{ keys map[string]bool }
		var stack []*frame
		expectKey := false
		for {
			tok, err := dec.Token()
			if err != nil {
				return
			}
			switch tok {
			case json.Delim('{'):
				stack = append(stack, &frame{keys: map[string]bool{}})
				expectKey = true
				continue
			case json.Delim('['):
				stack = append(stack, nil)
			case json.Delim('}'), json.Delim(']'):
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 0 && stack[len(stack)-1] != nil {
				if k, ok := tok.(string); ok && expectKey {
					f := strings.ToLower(strings.ToUpper(k))
					if stack[len(stack)-1].keys[f] {
						t.Fatalf("accepted %q with a duplicate key", b)
					}
					stack[len(stack)-1].keys[f] = true
					expectKey = false
					continue
				}
				expectKey = true
			}
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestContentTypeChecked(t *testing.T) {
	for ct, ok := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON; Charset=UTF-8": true,
		"": false, "text/plain": false, "application/xml": false, "application/json; charset=latin1": false,
		"application/json; foo=bar": false, "application/jsonx": false,
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		err := checkContentType(r.Header)
		require.Equal(t, ok, err == nil, ct)
	}
}

// FuzzCheckKeysFast: where the allocation-free scan decides, it decides as
// the exact tokenizer walk does.
func FuzzCheckKeysFast(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"A":2}`, `{"a":{"a":1},"b":[{"a":1},{"A":[]}]}`, `[[[]]]`, `{"a":[1,2,{"b":"}"}]}`,
		`{"k":1,"\u004b":2}`, `{"a": "x" , "b" :{ }}`, strings.Repeat("[", 20), `{"a":1,}`, `{"a"}`, `{` + strings.Repeat(`"k":1,`, 20) + `"z":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) || checkSurrogates(b) != nil {
			return
		}
		decided, err := checkKeysFast(b)
		if !decided {
			return
		}
		slow := checkKeys(b)
		if !json.Valid(b) {
			// A syntax error: both may pass it on to the decoder, or stop
			// at a duplicate or the depth before reaching it.
			return
		}
		require.Equal(t, slow == nil, err == nil, "body %q: fast %v, exact %v", b, err, slow)
	})
}

func TestCheckJSONAllocatesNothing(t *testing.T) {
	body := []byte(`{"label":"web","digest":"3q2+7w==","hash":"SHA-256","scheme":"","context":{"a":[1,2]}}`)
	require.NoError(t, checkJSON(body))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if checkJSON(body) != nil {
			panic("refused")
		}
	}))
}
