//go:build race

package jsonio_test

// raceEnabled scales down the large streaming test under the race
// detector, which slows byte loops tenfold.
const raceEnabled = true
