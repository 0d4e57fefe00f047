package main

import (
	"strings"
	"testing"
)

// A report records the real command line, every flag, never a secret.
func TestCommandLineRedacts(t *testing.T) {
	o := &rootOptions{argv: []string{"verify", "--certstore", "s.ecs", "--password-hex", "00112233", "--ca", "@certstore://ca",
		"--src-password-hex=deadbeef", "--fail-on", "warning", "--", "--password-hex", "f.json"}}
	got := strings.Join(o.commandLine("unused"), " ")
	want := "tlseal verify --certstore s.ecs --password-hex (redacted) --ca @certstore://ca --src-password-hex=(redacted) --fail-on warning -- --password-hex f.json"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if strings.Contains(got, "00112233") || strings.Contains(got, "deadbeef") {
		t.Errorf("a secret in %q", got)
	}
	o = &rootOptions{argv: []string{"sign", "--key", "pkcs11:token=t;object=k?module-path=/m.so&pin-value=4321", "--key=pkcs11:token=t;object=k?pin-value=4321&x=1"}}
	got = strings.Join(o.commandLine("unused"), " ")
	want = "tlseal sign --key pkcs11:token=t;object=k?module-path=/m.so&pin-value=(redacted) --key=pkcs11:token=t;object=k?pin-value=(redacted)&x=1"
	if got != want || strings.Contains(got, "4321") {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := (&rootOptions{}).commandLine("tlseal", "x"); strings.Join(got, " ") != "tlseal x" {
		t.Errorf("fallback %q", got)
	}
}
