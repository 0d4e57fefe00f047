package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
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
