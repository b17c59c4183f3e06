// Package sealcmd holds what the two sealed-secret command lines share:
// `cryptoplug seal …` (cmd/cryptoplug) and its predecessor
// cmd/cryptoplug-seal. Each parses its own flags; the secret is read and
// the outcome printed here, so that both read the same input and print the
// same words.
package sealcmd

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/seal"
)

// ReadSecret reads the secret to seal from r, or from the file path when
// path is not empty: at most [seal.MaxPlaintextLen] bytes, one trailing
// newline (LF or CRLF) dropped. An empty or overlong secret is an error
// wrapping [backend.ErrInvalidInput]; the caller wipes the result.
func ReadSecret(r io.Reader, path string) ([]byte, error) {
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read the secret: %w", err)
		}
		defer f.Close()
		r = f
	}
	// One byte over the limit and a CRLF: enough to tell "too long".
	b, err := io.ReadAll(io.LimitReader(r, seal.MaxPlaintextLen+3))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("read the secret: %w", err)
	}
	n := len(b)
	if n > 0 && b[n-1] == '\n' {
		n--
		if n > 0 && b[n-1] == '\r' {
			n--
		}
	}
	switch {
	case n == 0:
		clear(b)
		return nil, fmt.Errorf("the secret is empty: %w", backend.ErrInvalidInput)
	case n > seal.MaxPlaintextLen:
		clear(b)
		return nil, fmt.Errorf("the secret is over %d bytes: %w", seal.MaxPlaintextLen, backend.ErrInvalidInput)
	}
	clear(b[n:])
	return b[:n], nil
}

// Result is what a command says about a sealed file: where it is, what its
// framing says, and (but for inspect, which uses no key) the secret source
// that reads it.
type Result struct {
	File   string
	Info   seal.Info
	Source *backend.SealedSource // nil: inspect
}

// WriteText prints r as lines of "name: value".
func (r Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "file: %s\nscheme: %d\nalgorithm: %s\nkey ID: %x\n", r.File, r.Info.Scheme, r.Info.Algorithm, r.Info.KeyID)
	r.source(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSource prints only the lines that name the secret source: for a
// command that reads no file (source).
func (r Result) WriteSource(w io.Writer) error {
	var b strings.Builder
	r.source(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r Result) source(b *strings.Builder) {
	if r.Source != nil {
		fmt.Fprintf(b, "source: %s\nin a URI: pin-source=%s\n", r.Source, r.Source.AttrValue())
	}
}

// JSON is r as the stable JSON object `cryptoplug seal … -o json` prints.
type JSON struct {
	File      string `json:"file"`
	Scheme    int    `json:"scheme"`
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"` // hex
	Source    string `json:"source,omitempty"`
	PINSource string `json:"pin_source,omitempty"` // the value of a URI's pin-source=
}

// JSON returns r's JSON form.
func (r Result) JSON() JSON {
	j := JSON{File: r.File, Scheme: r.Info.Scheme, Algorithm: r.Info.Algorithm, KeyID: hex.EncodeToString(r.Info.KeyID)}
	if r.Source != nil {
		j.Source, j.PINSource = r.Source.String(), r.Source.AttrValue()
	}
	return j
}
