//go:build race

package main

// raceEnabled: the race detector slows the in-process stages tenfold.
const raceEnabled = true
