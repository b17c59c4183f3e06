package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/conformance"
)

// syncBuffer is a bytes.Buffer the bar's ticker and the suite may write
// to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The bar reads the suite's own progress lines, from a real run: it fails
// when conformance changes their shape and the bar no longer follows.
func TestProgressBarReadsTheSuite(t *testing.T) {
	uri, _ := newStore(t)
	var screen syncBuffer
	var lines bytes.Buffer // RunStandalone writes progress from its own goroutine only
	bar := newProgressBar(&screen)
	rep := conformance.RunStandalone(conformance.OpenURI(uri), nil,
		append(smallBudget(),
			conformance.WithAlgorithms(backend.Ed25519),
			conformance.WithWycheproofLimit(0),
			conformance.WithProgress(io.MultiWriter(bar, &lines)))...)
	require.NoError(t, bar.Close())
	require.Empty(t, rep.Failures())

	// The suite writes no line for a check that applies to no algorithm
	// in scope, so the last line it wrote is what the bar ends on.
	var last []string
	for _, l := range strings.Split(strings.TrimSpace(lines.String()), "\n") {
		if m := progressLine.FindStringSubmatch(l); m != nil {
			last = m
		}
	}
	require.NotNil(t, last, "the suite wrote progress lines the bar reads:\n%s", lines.String())
	require.True(t, progressHeader.MatchString(lines.String()), "the header line:\n%s", lines.String())
	n, err := strconv.Atoi(last[1])
	require.NoError(t, err)
	total, err := strconv.Atoi(last[2])
	require.NoError(t, err)
	require.Greater(t, n, total/2, "most checks apply to Ed25519")

	bar.mu.Lock()
	require.Equal(t, n, bar.checks)
	require.Equal(t, total, bar.total)
	require.Equal(t, last[3], bar.current)
	require.False(t, bar.leftAt.IsZero(), "an estimate was read")
	bar.mu.Unlock()

	out := screen.String()
	filled := n * barWidth / total
	status := fmt.Sprintf("\r[%s%s] %3d/%d %s  ", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), n, total, last[3])
	require.Contains(t, out, status, "the bar was drawn for the last check")
	require.True(t, strings.HasSuffix(out, "\r\x1b[K"), "Close erased the bar: %q", out[max(0, len(out)-80):])
	// The reduced-budget notes are not progress: they are printed whole,
	// above the bar.
	require.Contains(t, out, "\r\x1b[Kconformance: reduced budget: only the algorithms Ed25519\n")
}

// Lines the bar does not recognise pass through, each on a line of its
// own, the bar erased first; after Close nothing more is written.
func TestProgressBarPassesOtherLines(t *testing.T) {
	var screen syncBuffer
	bar := newProgressBar(&screen)
	_, err := bar.Write([]byte("conformance: 3 checks, 9 results to produce on software\nconformance: [1/3] open: 3 pass in 1ms; 0s elapsed, about 2m0s left\nsome"))
	require.NoError(t, err)
	_, err = bar.Write([]byte(" note\n"))
	require.NoError(t, err)
	require.NoError(t, bar.Close())
	require.NoError(t, bar.Close(), "Close is idempotent")
	out := screen.String()
	require.Contains(t, out, "\r\x1b[Ksome note\n")
	require.Regexp(t, `\r\[#{8}-{16}\]   1/3 open  \S+ elapsed, about (2m0s|1m59s) left\x1b\[K`, out)

	_, err = bar.Write([]byte("late line\n"))
	require.NoError(t, err)
	require.Equal(t, out, screen.String(), "nothing is written after Close")
}
