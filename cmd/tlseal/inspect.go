package main

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

type inspectOptions struct {
	trust trustFlags
}

// descriptor is what inspect prints.
type descriptor struct {
	File           string          `json:"file"`
	Verified       bool            `json:"verified"`
	Verdict        verify.Verdict  `json:"verdict"`
	Kind           timeline.Kind   `json:"kind,omitempty"`
	FormType       string          `json:"formType,omitempty"`
	AudioFormat    uint16          `json:"audioFormat,omitempty"`
	Channels       uint16          `json:"channels,omitempty"`
	SampleRate     uint32          `json:"sampleRate,omitempty"`
	BitsPerSample  uint16          `json:"bitsPerSample,omitempty"`
	SampleCount    int64           `json:"sampleCount,omitempty"`
	CertPEM        string          `json:"certPem,omitempty"`
	CertDescriptor *certDescriptor `json:"certDescriptor,omitempty"`
	Seal           json.RawMessage `json:"seal,omitempty"`
	// The seal's RFC 3161 token (version 2) and the trusted time it gives.
	Timestamp         *verify.TimestampInfo `json:"timestamp,omitempty"`
	TrustedTime       string                `json:"trustedTime,omitempty"`
	TrustedTimeSource string                `json:"trustedTimeSource,omitempty"`
	Findings          []verify.Finding      `json:"findings"`
}

type certDescriptor struct {
	Subject     string `json:"subject"`
	Issuer      string `json:"issuer"`
	Serial      string `json:"serial"`
	NotBefore   string `json:"notBefore"`
	NotAfter    string `json:"notAfter"`
	Fingerprint string `json:"fingerprint"`
}

func newInspectCommand(root *rootOptions) *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Print a JSON descriptor of a sealed file",
		Long: `Print what a sealed file is: kind, audio format (WAVE), the seal envelope, the
signer certificate and its descriptor, and whether it verifies (against --ca).
The exit status is that of verify.`,
		Example: `  tlseal inspect --ca ca.pem rec.sealed.wav
  tlseal inspect event.sealed.json | jq .certDescriptor`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), root, &opts, args[0])
		},
	}
	opts.trust.register(cmd.Flags())
	return cmd
}

func runInspect(_ context.Context, root *rootOptions, opts *inspectOptions, path string) error {
	trust, err := root.loadTrust(opts.trust)
	if err != nil {
		return err
	}
	res, err := verify.File(path, trust)
	if err != nil {
		return err
	}
	d := descriptor{File: path, Verified: res.Verdict == verify.Passed, Verdict: res.Verdict, Kind: res.Kind, Findings: res.Findings,
		Timestamp: res.Timestamp, TrustedTime: res.TrustedTime, TrustedTimeSource: res.TrustedTimeSource}
	if l := res.Opened.Layout; l != nil {
		d.FormType = string(l.FormType[:])
	}
	if w := res.Wave; w != nil {
		d.AudioFormat, d.Channels, d.SampleRate, d.BitsPerSample, d.SampleCount = w.AudioFormat, w.Channels, w.SampleRate, w.BitsPerSample, w.SampleCount
	}
	if e := res.Opened.Envelope; e != nil {
		d.CertPEM = e.CertPEM
		d.Seal = json.RawMessage(res.Opened.EnvelopeBytes)
	}
	if s := res.Signer; s != nil {
		d.CertDescriptor = &certDescriptor{Subject: s.Subject, Issuer: s.Issuer, Serial: s.Serial, NotBefore: s.NotBefore, NotAfter: s.NotAfter, Fingerprint: s.SHA256}
	}
	enc := json.NewEncoder(root.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return err
	}
	return &verdictError{code: verdictExit(res.Verdict)}
}
