package main

import (
	"bytes"
	"fmt"
	"os"

	"golang.org/x/term"
)

// maxPINLen bounds what the prompt accepts. PKCS #11 PINs are rarely over
// 64 bytes; passphrases can be longer.
const maxPINLen = 1024

// ttyPath is the controlling terminal. PINs are asked for there, not on
// standard input, so that `cat data | cryptoplug sign …` still prompts,
// and never when the command runs without a terminal (cron, CI, a pipe
// from another program), where it fails instead of hanging.
const ttyPath = "/dev/tty"

// askPIN asks for a PIN on the controlling terminal with echo off, twice
// when confirm is set (a passphrase being chosen), and remembers it so that
// it can be scrubbed from any error line. It fails with an error wrapping
// errNoPIN when there is no terminal.
func (a *app) askPIN(prompt string, confirm bool) ([]byte, error) {
	tty, err := os.OpenFile(ttyPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: the URI names no pin-source and there is no terminal to ask on; "+
			"add pin-source=file:/path or pin-source=env:NAME to the URI", errNoPIN)
	}
	defer tty.Close()
	fd := int(tty.Fd())
	if !term.IsTerminal(fd) {
		return nil, fmt.Errorf("%w: the URI names no pin-source and %s is not a terminal; "+
			"add pin-source=file:/path or pin-source=env:NAME to the URI", errNoPIN, ttyPath)
	}
	read := func(p string) ([]byte, error) {
		restore, err := echoOff(fd)
		if err != nil {
			return nil, fmt.Errorf("%w: the terminal's settings: %v", errNoPIN, err)
		}
		fmt.Fprintf(tty, "%s: ", p)
		pin, err := term.ReadPassword(fd)
		restore()
		fmt.Fprintln(tty)
		if err != nil {
			return nil, fmt.Errorf("%w: reading the terminal: %v", errNoPIN, err)
		}
		pin = bytes.TrimSuffix(pin, []byte("\r"))
		switch {
		case len(pin) == 0:
			return nil, fmt.Errorf("%w: nothing was entered", errNoPIN)
		case len(pin) > maxPINLen:
			clear(pin)
			return nil, fmt.Errorf("%w: longer than %d bytes", errNoPIN, maxPINLen)
		}
		return pin, nil
	}
	pin, err := read(prompt)
	if err != nil {
		return nil, err
	}
	if confirm {
		again, err := read("Again, to confirm")
		if err != nil {
			clear(pin)
			return nil, err
		}
		same := bytes.Equal(pin, again)
		clear(again)
		if !same {
			clear(pin)
			return nil, fmt.Errorf("%w: the two entries differ", errNoPIN)
		}
	}
	a.secrets = append(a.secrets, bytes.Clone(pin))
	return pin, nil
}
