package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// printJSON writes v as indented JSON and a newline.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// table writes aligned columns: a header row, then rows.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields writes "name: value" lines with the values aligned, leaving out
// empty values.
func fields(w io.Writer, kv ...[2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, f := range kv {
		if f[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
		}
	}
	return tw.Flush()
}

// maxInputLen bounds what is read from an input file or standard input
// into memory: a message for a pure signature scheme, a key, a signature,
// a report. Digest schemes stream their input and have no bound.
const maxInputLen = 256 << 20

// readInput reads path ("-" or "" for in) whole, up to limit bytes.
func readInput(in io.Reader, path string, limit int64) ([]byte, error) {
	r, name, closeFn, err := openInput(in, path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, usagef("%s is longer than %d bytes", name, limit)
	}
	return b, nil
}

// openInput opens path for reading, "-" or "" meaning in.
func openInput(in io.Reader, path string) (r io.Reader, name string, closeFn func(), err error) {
	if path == "" || path == "-" {
		return in, "standard input", func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, path, nil, usagef("open %s: %v", path, unwrapPath(err))
	}
	return f, path, func() { _ = f.Close() }, nil
}

// writeOutput writes b to path, or to out when path is "" or "-". A file is
// created with mode perm and never overwritten: an existing file is an
// error, so that a certificate or key file is not lost to a typo.
func writeOutput(out io.Writer, path string, b []byte, perm os.FileMode) error {
	if path == "" || path == "-" {
		_, err := out.Write(b)
		return err
	}
	f, err := os.OpenFile(filepath.Clean(path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return usagef("create %s: %v", path, unwrapPath(err))
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// unwrapPath drops the *PathError's copy of the path, which the message
// already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
