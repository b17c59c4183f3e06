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

// checkSurrogates finds \uD800-\uDFFF escapes that do not form a pair:
// encoding/json turns them into U+FFFD instead of refusing them.
func checkSurrogates(b []byte) error {
	bad := badRequest("malformed JSON body: a \\u escape is a lone surrogate")
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
				return bad
			case r >= 0xd800 && r <= 0xdbff:
				if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return bad
				}
				lo, ok := hex4(b, i+3)
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return bad
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
