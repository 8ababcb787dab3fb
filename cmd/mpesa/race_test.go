//go:build race

package main

// raceEnabled is set in binaries built with -race.
const raceEnabled = true
