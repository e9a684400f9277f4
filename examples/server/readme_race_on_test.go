//go:build race

package main

// raceEnabled: this test binary has the race detector, so the demo it
// builds for TestREADMECommands has it too (and reuses its packages).
const raceEnabled = true
