//go:build !race

package jsonio_test

const raceEnabled = false
