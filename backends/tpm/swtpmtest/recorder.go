package swtpmtest

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// Recorder is a bus sniffer: a proxy socket in front of a TPM's that
// passes every connection through and keeps a copy of every byte, both
// ways. Point a backend at [Recorder.Socket] instead of the TPM's, then
// look for what must not be on the wire in [Recorder.Bytes].
type Recorder struct {
	// Socket is the proxy's Unix socket (tpm:swtpm=<Socket>).
	Socket string

	target string
	l      *net.UnixListener
	wg     sync.WaitGroup

	mu   sync.Mutex
	seen bytes.Buffer
}

// Record starts a recording proxy in front of s and stops it when the
// test ends.
func (s *TPM) Record(tb testing.TB) *Recorder {
	tb.Helper()
	r := &Recorder{Socket: filepath.Join(tb.TempDir(), "sniffed.sock"), target: s.Socket}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.Socket, Net: "unix"})
	if err != nil {
		tb.Fatalf("swtpmtest: recorder: %v", err)
	}
	r.l = l
	r.wg.Add(1)
	go r.serve()
	tb.Cleanup(func() {
		r.l.Close()
		r.wg.Wait()
	})
	return r
}

// Bytes returns a copy of everything that passed so far, both ways. A
// command's bytes and its response are recorded before the client has
// the response, so after a call returns its traffic is all here.
func (r *Recorder) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.seen.Bytes())
}

// Reset forgets what was recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen.Reset()
}

func (r *Recorder) serve() {
	defer r.wg.Done()
	for {
		c, err := r.l.AcceptUnix()
		if err != nil {
			return // closed at cleanup
		}
		r.wg.Add(1)
		go r.relay(c)
	}
}

// relay copies one client connection to a fresh connection to the TPM
// and back, recording both directions.
func (r *Recorder) relay(client *net.UnixConn) {
	defer r.wg.Done()
	defer client.Close()
	tpm, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: r.target, Net: "unix"})
	if err != nil {
		return // the TPM is down: the client sees its connection closed
	}
	defer tpm.Close()
	done := make(chan struct{})
	go func() {
		r.copy(tpm, client)
		_ = tpm.CloseWrite()
		close(done)
	}()
	r.copy(client, tpm)
	_ = client.CloseWrite()
	<-done
}

// copy moves bytes from src to dst, recording each chunk before passing
// it on.
func (r *Recorder) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.seen.Write(buf[:n])
			r.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF, or the other side went away
		}
	}
}
