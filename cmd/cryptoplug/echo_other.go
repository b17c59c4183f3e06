//go:build !linux

package main

// echoOff does nothing where the terminal's settings are not reached here:
// term.ReadPassword turns echo off when it starts reading.
func echoOff(int) (restore func(), err error) { return func() {}, nil }
