package refserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cryptoplug/cryptoplug/wire"
)

var errMediaType = newError(wire.CodeUnsupportedMediaType, "Content-Type must be application/json")

// decodeJSON reads exactly one JSON object into v. It refuses, before
// decoding: a Content-Type other than application/json (415); a body over
// the route's limit (413); and what encoding/json would otherwise accept
// silently and differently from the sender's intent (400): invalid UTF-8
// and escaped lone surrogates (decoded as U+FFFD), and duplicate keys (the
// last would win), compared as encoding/json matches keys to fields,
// case-insensitively. Then unknown fields, wrong types and trailing data
// (400). No message quotes the body.
func decodeJSON(r *http.Request, v any) error {
	if err := checkContentType(r.Header); err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body required")
	}
	if err := checkJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON body: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON body: data after the object")
	}
	return nil
}

// checkContentType accepts application/json with at most a UTF-8 charset.
func checkContentType(h http.Header) error {
	vals := h.Values("Content-Type")
	if len(vals) != 1 {
		return errMediaType
	}
	mt, params, err := mime.ParseMediaType(vals[0])
	if err != nil || mt != "application/json" {
		return errMediaType
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return errMediaType
		}
	}
	return nil
}

// maxJSONDepth bounds nesting; no request type of this server nests more
// than three levels.
const maxJSONDepth = 16

// checkJSON refuses invalid UTF-8, escaped lone surrogates, duplicate keys
// and nesting deeper than maxJSONDepth. It leaves syntax errors to the
// decoder, which reports them without quoting the input.
func checkJSON(b []byte) error {
	if !utf8.Valid(b) {
		return badRequest("request body is not valid UTF-8")
	}
	if err := checkSurrogates(b); err != nil {
		return err
	}
	if decided, err := checkKeysFast(b); decided {
		return err
	}
	return checkKeys(b)
}

// checkKeys refuses duplicate keys and nesting deeper than maxJSONDepth,
// walking the body with encoding/json's tokenizer: exact for any input, but
// a dozen allocations per key. checkKeysFast decides the common bodies
// first.
func checkKeys(b []byte) error {
	type frame struct {
		object  bool
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // EOF or a syntax error, which Decode reports
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			key, _ := tok.(string)
			folded := strings.ToLower(strings.ToUpper(key))
			if top.keys[folded] {
				return badRequest("malformed JSON body: a key appears twice in one object")
			}
			top.keys[folded] = true
			top.wantKey = false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true // after this value, a key or '}'
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) == maxJSONDepth {
				return badRequest("malformed JSON body: nested deeper than %d", maxJSONDepth)
			}
			stack = append(stack, &frame{object: tok == json.Delim('{'), keys: map[string]bool{}, wantKey: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// Limits of checkKeysFast: more keys in one object, or a key with an
// escape or a non-ASCII byte, and the body goes to checkKeys, which folds
// keys as encoding/json matches them to fields (the Kelvin sign and the
// long s match k and s) and keeps them in a map.
const fastMaxKeys = 16

// checkKeysFast is checkKeys without allocation, for bodies whose keys are
// plain ASCII without escapes (every body this server's clients send): it
// scans the bytes once, keeping each object's keys as slices of b and
// comparing them ASCII case-insensitively, which for such keys is how
// encoding/json matches them. decided is false when the body needs
// checkKeys; a syntax error counts as decided with no error, for the
// decoder to report.
func checkKeysFast(b []byte) (decided bool, err error) {
	var ks keyScanner
	ks.b = b
	return ks.scan()
}

// keyScanner is checkKeysFast's state; it lives on the caller's stack.
type keyScanner struct {
	b     []byte
	i     int
	keys  [2 * fastMaxKeys][]byte // the keys of the open objects, innermost last
	nkeys int
	// base holds, per open container, its first key's index in keys, or
	// -1 for an array.
	base  [maxJSONDepth]int
	depth int
}

func (ks *keyScanner) skipSpace() {
	for ks.i < len(ks.b) {
		switch ks.b[ks.i] {
		case ' ', '\t', '\n', '\r':
			ks.i++
		default:
			return
		}
	}
}

// str scans the string at b[i] == '"' and returns its content; plain is
// false if it holds an escape or a non-ASCII byte.
func (ks *keyScanner) str() (content []byte, plain, ok bool) {
	start := ks.i + 1
	plain = true
	for j := start; j < len(ks.b); j++ {
		switch c := ks.b[j]; {
		case c == '"':
			ks.i = j + 1
			return ks.b[start:j], plain, true
		case c == '\\':
			plain = false
			j++
		case c >= 0x80:
			plain = false
		}
	}
	return nil, false, false
}

// key reads an object key and its colon, checks the key against the
// innermost object's and records it. ok is false when the scan must stop,
// with decided and err as checkKeysFast returns them.
func (ks *keyScanner) key() (ok, decided bool, err error) {
	ks.skipSpace()
	if ks.i >= len(ks.b) || ks.b[ks.i] != '"' {
		return false, true, nil // a syntax error
	}
	k, plain, found := ks.str()
	switch {
	case !found:
		return false, true, nil
	case !plain:
		return false, false, nil
	}
	first := ks.base[ks.depth-1]
	for _, prev := range ks.keys[first:ks.nkeys] {
		if bytes.EqualFold(prev, k) {
			return false, true, badRequest("malformed JSON body: a key appears twice in one object")
		}
	}
	if ks.nkeys-first == fastMaxKeys || ks.nkeys == len(ks.keys) {
		return false, false, nil
	}
	ks.keys[ks.nkeys] = k
	ks.nkeys++
	ks.skipSpace()
	if ks.i >= len(ks.b) || ks.b[ks.i] != ':' {
		return false, true, nil
	}
	ks.i++
	return true, true, nil
}

func (ks *keyScanner) scan() (decided bool, err error) {
	expectValue := true // a value must come next
	for {
		ks.skipSpace()
		if ks.i == len(ks.b) {
			return true, nil // the end, or a truncated body the decoder reports
		}
		c := ks.b[ks.i]
		inObject := ks.depth > 0 && ks.base[ks.depth-1] >= 0
		switch {
		case expectValue && (c == '{' || c == '['):
			if ks.depth == maxJSONDepth {
				return true, badRequest("malformed JSON body: nested deeper than %d", maxJSONDepth)
			}
			ks.base[ks.depth] = -1
			if c == '{' {
				ks.base[ks.depth] = ks.nkeys
			}
			ks.depth++
			ks.i++
			ks.skipSpace()
			if ks.i < len(ks.b) && ks.b[ks.i] == c+2 { // '{'+2 is '}', '['+2 is ']'
				ks.close()
				expectValue = false
				continue
			}
			if c == '{' {
				if ok, decided, err := ks.key(); !ok {
					return decided, err
				}
			}
		case expectValue && c == '"':
			if _, _, ok := ks.str(); !ok {
				return true, nil
			}
			expectValue = false
		case expectValue:
			// A number or a literal: up to the next delimiter; the decoder
			// judges it.
			for ks.i < len(ks.b) && strings.IndexByte(",:]} \t\n\r", ks.b[ks.i]) < 0 {
				ks.i++
			}
			expectValue = false
		case c == ',' && ks.depth > 0:
			ks.i++
			if inObject {
				if ok, decided, err := ks.key(); !ok {
					return decided, err
				}
			}
			expectValue = true
		case c == '}' && inObject, c == ']' && ks.depth > 0 && !inObject:
			ks.close()
			expectValue = false
		default:
			return true, nil // a syntax error: the decoder reports it
		}
	}
}

// close ends the innermost container at b[i].
func (ks *keyScanner) close() {
	if ks.base[ks.depth-1] >= 0 {
		ks.nkeys = ks.base[ks.depth-1]
	}
	ks.depth--
	ks.i++
}

// checkSurrogates finds \uD800-\uDFFF escapes that do not form a pair:
// encoding/json turns them into U+FFFD instead of refusing them.
func checkSurrogates(b []byte) error {
	bad := func() error { return badRequest("malformed JSON body: a \\u escape is a lone surrogate") }
	inString := false
	for i := 0; i < len(b); i++ {
		switch {
		case !inString:
			inString = b[i] == '"'
		case b[i] == '"':
			inString = false
		case b[i] == '\\' && i+1 < len(b):
			if b[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				return nil // a syntax error, which Decode reports
			}
			i += 5
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return bad()
			case r >= 0xd800 && r <= 0xdbff:
				if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return bad()
				}
				lo, ok := hex4(b, i+3)
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return bad()
				}
				i += 6
			}
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 16)
	return rune(v), err == nil
}

// jsonErrorText describes a decoding error without echoing the input.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + strconv.Quote(te.Field) + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end"
	}
	return "not the expected object"
}
