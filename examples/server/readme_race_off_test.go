//go:build !race

package main

// raceEnabled: see readme_race_on_test.go.
const raceEnabled = false
