package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every command's --help shows at least one example, and every command
// that judges files documents the exit statuses.
func TestEveryCommandHasExample(t *testing.T) {
	root := newRootCommand(&rootOptions{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.Hidden {
			if strings.TrimSpace(c.Example) == "" {
				t.Errorf("%q has no example", c.CommandPath())
			}
			var out bytes.Buffer
			c.SetOut(&out)
			c.Help()
			if !strings.Contains(out.String(), "Examples:") {
				t.Errorf("%q help shows no example", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, name := range []string{"verify"} {
		c, _, err := root.Find([]string{name})
		if err != nil || !strings.Contains(c.Long, "Exit status:") {
			t.Errorf("%s does not document the exit statuses", name)
		}
	}
}

// Every flag docs/operations.md mentions exists on some tlseal command (the
// guide must not teach flags that are gone). Lines about other tools
// (rsync, journalctl, systemd-analyze) are skipped.
func TestOperationsGuideFlagsExist(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(&rootOptions{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}))
	re := regexp.MustCompile(`(?:^|[\s\x60(])--([a-z][a-z0-9-]+)`)
	n := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.Contains(line, "rsync ") || strings.Contains(line, "journalctl") || strings.Contains(line, "systemd-analyze ") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			n++
			if !flags[m[1]] {
				t.Errorf("docs/operations.md mentions --%s, which no command has: %s", m[1], strings.TrimSpace(line))
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d flags found in the guide: the pattern is broken", n)
	}
}

// The certificate store flags are listed only by the commands that resolve
// keys or trust anchors; the others (extract, demo, proof, ...) would
// silently ignore them.
func TestStoreFlagsOnlyWhereUsed(t *testing.T) {
	root := newRootCommand(&rootOptions{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	storeFlags := []string{"config", "certstore", "password-hex", "password-file"}
	var walk func(c *cobra.Command, top string)
	walk = func(c *cobra.Command, top string) {
		var out bytes.Buffer
		c.SetOut(&out)
		c.Help()
		for _, f := range storeFlags {
			listed := strings.Contains(out.String(), "--"+f+" ")
			if want := storeCommands[top]; listed != want {
				t.Errorf("%q help lists --%s: %v, want %v", c.CommandPath(), f, listed, want)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub, top)
		}
	}
	for _, c := range root.Commands() {
		walk(c, c.Name())
	}
	for _, name := range []string{"sign", "verify", "audit", "watch", "certstore"} {
		if !storeCommands[name] {
			t.Errorf("%s resolves keys or anchors but takes no store flags", name)
		}
	}
}
