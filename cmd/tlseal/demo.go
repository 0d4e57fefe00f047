package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/report"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

func newDemoCommand(root *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "demo [DIR]",
		Short: "Run the whole story end to end on generated sample data (offline, seconds)",
		Long: `Create a throw-away development PKI, write Engage-style timeline files (event
JSON files and a WAV recording generated here), seal them, verify them, tamper
with a copy and show that verification catches it. Everything is written under
DIR (default: a new tlseal-demo-* directory in the current one); the summary
says what is where. The development PKI is for demonstrations only.`,
		Example: `  tlseal demo
  tlseal demo /tmp/tlseal-demo`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("demo takes at most one directory")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			return runDemo(cmd.Context(), root, dir)
		},
	}
}

func runDemo(ctx context.Context, root *rootOptions, dir string) error {
	out := root.stdout
	dir, err := demoDir(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "tlseal demo in %s\n\n", dir)
	paths := map[string]string{}
	for _, d := range []string{"pki", "recorder", "sealed", "tampered", "reports"} {
		paths[d] = filepath.Join(dir, d)
		if err := os.MkdirAll(paths[d], 0o755); err != nil {
			return err
		}
	}

	// 1. Development PKI in an encrypted certificate store.
	storePath, pwPath, caPath, signer, trust, err := demoPKI(paths["pki"])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "1. certificate store %s with a development PKI (DEVELOPMENT ONLY, not for evidence);\n   signer %s (tag %s), CA %s (tag %s)\n",
		storePath, certstore.Ref(certstore.DevSignerID), certstore.TagEngineDefault, certstore.Ref(certstore.DevCAID), certstore.TagCADefault)

	// 2. Sample timeline files, as a recorder writes them.
	start := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	files := map[string][]byte{"rec-0001.wav": samples.WAV(8000, 2, 440)}
	for i := 1; i <= 3; i++ {
		files[fmt.Sprintf("event-%04d.json", i)] = samples.EventJSON(i, start.Add(time.Duration(i)*time.Minute), "rec-0001.wav")
	}
	var names []string
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(paths["recorder"], name), data, 0o644); err != nil {
			return err
		}
		names = append(names, name)
	}
	sortStrings(names)
	fmt.Fprintf(out, "2. %d sample timeline files (event JSON, a WAV recording): %s\n", len(names), paths["recorder"])

	// 3. Seal each into sealed/.
	for _, name := range names {
		if _, err := timeline.SealFile(filepath.Join(paths["recorder"], name), filepath.Join(paths["sealed"], name), false,
			timeline.SealOptions{Name: name, Signer: signer}); err != nil {
			return fmt.Errorf("sealing %s: %w", name, err)
		}
	}
	fmt.Fprintf(out, "3. sealed them into %s (seal embedded: still valid JSON, still a playable WAV)\n", paths["sealed"])

	// 3b. Archive them: sealed copies chained in a Merkle log with a signed checkpoint.
	fmt.Fprintf(out, "3b. ")
	if err := demoArchive(out, filepath.Join(dir, "archive"), signer, paths["recorder"], names); err != nil {
		return err
	}

	// 4. Verify the sealed files.
	good, err := demoVerify(ctx, paths["sealed"], trust, filepath.Join(paths["reports"], "sealed.json"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "4. verified %s: %d passed, %d failed -> verdict %s\n", paths["sealed"], good.Summary.Passed, good.Summary.Failed, good.Verdict)

	// 5. Tamper with a copy and verify again.
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(paths["sealed"], name))
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(name, ".wav"):
			data[1000] ^= 0x01 // one bit of audio
		case name == "event-0002.json":
			data = []byte(strings.Replace(string(data), `"alias": "Unit 9"`, `"alias": "Unit 1"`, 1))
		}
		if err := os.WriteFile(filepath.Join(paths["tampered"], name), data, 0o644); err != nil {
			return err
		}
	}
	bad, err := demoVerify(ctx, paths["tampered"], trust, filepath.Join(paths["reports"], "tampered.json"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "5. tampered copy %s (one audio bit flipped, one alias changed): %d passed, %d failed -> verdict %s\n",
		paths["tampered"], bad.Summary.Passed, bad.Summary.Failed, bad.Verdict)
	for _, it := range bad.Items {
		for _, f := range it.Findings {
			fmt.Fprintf(out, "     caught: %s %s\n", filepath.Base(it.Path), f.Code)
		}
	}
	if good.Verdict != verify.Passed || bad.Summary.Failed != 2 {
		return fmt.Errorf("demo: unexpected outcome (sealed: %s, tampered failures: %d)", good.Verdict, bad.Summary.Failed)
	}
	fmt.Fprintf(out, "\nReports: %s\nTry: tlseal verify --ca %s %s\n     tlseal verify --certstore %s --password-file %s %s\n     tlseal extract %s -o original.wav\n",
		paths["reports"], caPath, paths["tampered"], storePath, pwPath, paths["sealed"], filepath.Join(paths["sealed"], "rec-0001.wav"))
	return nil
}

func demoVerify(ctx context.Context, dir string, trust *verify.Trust, reportPath string) (*report.Report, error) {
	paths, err := verify.ExpandPaths([]string{dir})
	if err != nil {
		return nil, err
	}
	rep := report.New([]string{"tlseal", "verify", dir}, trust, time.Now())
	var opErr error
	err = verify.Files(ctx, paths, trust, 0, func(o verify.Outcome) {
		if o.Err != nil {
			opErr = o.Err
			return
		}
		rep.Add(o.Result)
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return nil, err
	}
	rep.Finish(time.Now())
	f, err := os.Create(reportPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return rep, report.WriteJSON(f, rep)
}

// demoDir picks (and checks) the demo's directory: it must be new or empty.
func demoDir(dir string) (string, error) {
	if dir == "" {
		dir = "tlseal-demo-" + time.Now().UTC().Format("20060102-150405")
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return "", usagef("demo directory %s exists and is not empty", dir)
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// demoPKI creates an encrypted certificate store holding a development CA
// (tagged -cadefault) and signer (tagged -enginedefault), and resolves the
// signer and the trust anchors through @certstore:// references and tag
// defaults, as an operator's configuration would.
func demoPKI(dir string) (storePath, pwPath, caPath string, s *timeline.Signer, trust *verify.Trust, err error) {
	storePath = filepath.Join(dir, "demo.ecs")
	pwPath = filepath.Join(dir, "demo.password")
	caPath = filepath.Join(dir, "ca.pem")
	password := make([]byte, 32)
	if _, err := rand.Read(password); err != nil {
		return "", "", "", nil, nil, err
	}
	if err := os.WriteFile(pwPath, password, 0o600); err != nil {
		return "", "", "", nil, nil, err
	}
	if _, err := certstore.Create(storePath, password, certstore.CreateOptions{}); err != nil {
		return "", "", "", nil, nil, err
	}
	var pki certstore.DevPKI
	if err := certstore.Update(storePath, password, func(st *certstore.Store) error {
		pki, err = certstore.InitDevPKI(st, "P-256", time.Now())
		return err
	}); err != nil {
		return "", "", "", nil, nil, err
	}
	if err := os.WriteFile(caPath, pki.CA.CertPEM, 0o644); err != nil {
		return "", "", "", nil, nil, err
	}
	r := &certstore.Resolver{StoreFile: storePath, Password: func() ([]byte, error) { return bytes.Clone(password), nil }}
	cert, chain, key, err := r.Signer(certstore.Ref(certstore.DevSignerID), "")
	if err != nil {
		return "", "", "", nil, nil, err
	}
	if s, err = timeline.NewSigner(cert, chain, key); err != nil {
		return "", "", "", nil, nil, err
	}
	anchors, err := r.TrustAnchors(nil) // every element tagged -cadefault
	if err != nil {
		return "", "", "", nil, nil, err
	}
	return storePath, pwPath, caPath, s, verify.NewTrust(anchors), nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
