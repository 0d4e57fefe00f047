package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/internal/atomicfile"
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
with a copy and show that verification catches it; then seals with trusted
time (RFC 3161 tokens of a development TSA) that outlive an expired signer
certificate, and one whose signer was revoked before its timestamp. Everything is written under
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
	for _, d := range []string{"pki", "recorder", "archive", "tampered", "reports"} {
		paths[d] = filepath.Join(dir, d)
	}
	for _, d := range []string{"pki", "recorder", "reports"} {
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

	// 2. and 3. A recorder writes timeline files while the watcher seals and
	// archives each one as soon as it is complete: sealed copies chained in a
	// Merkle log with a signed checkpoint.
	start := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	files := map[string][]byte{"rec-0001.wav": samples.WAV(8000, 2, 440)}
	for i := 1; i <= 3; i++ {
		files[fmt.Sprintf("event-%04d.json", i)] = samples.EventJSON(i, start.Add(time.Duration(i)*time.Minute), "rec-0001.wav")
	}
	names := slices.Sorted(maps.Keys(files))
	stats, err := watchDemo(ctx, paths["recorder"], paths["archive"], signer, cliLogger(io.Discard), func(ctx context.Context) (int, error) {
		return len(names), demoRecorder(ctx, paths["recorder"], names, files)
	})
	if err != nil {
		return fmt.Errorf("watcher: %w", err)
	}
	fmt.Fprintf(out, "2. a recorder wrote %d timeline files into %s (the WAV slowly, in pieces; events via rename)\n", len(names), paths["recorder"])
	fmt.Fprintf(out, "3. the watcher sealed and archived each once it was complete (%d sealed): ", stats.Sealed)
	if err := printArchiveSummary(out, paths["archive"], names[0]); err != nil {
		return err
	}

	// 4. Audit the archive.
	good, err := demoAudit(ctx, paths["archive"], trust, filepath.Join(paths["reports"], "archive"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "4. audited %s: %d passed, %d failed -> verdict %s\n", paths["archive"], good.Summary.Passed, good.Summary.Failed, good.Verdict)

	// 5. Tamper with a copy: one audio bit flipped, one event deleted.
	if err := os.CopyFS(paths["tampered"], os.DirFS(paths["archive"])); err != nil {
		return err
	}
	wav := filepath.Join(paths["tampered"], "files", "rec-0001.wav")
	data, err := os.ReadFile(wav)
	if err != nil {
		return err
	}
	data[1000] ^= 0x01
	os.Chmod(wav, 0o644)
	if err := os.WriteFile(wav, data, 0o644); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(paths["tampered"], "files", "event-0002.json")); err != nil {
		return err
	}
	bad, err := demoAudit(ctx, paths["tampered"], trust, filepath.Join(paths["reports"], "tampered"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "5. tampered copy %s (one audio bit flipped, one event deleted): %d passed, %d failed -> verdict %s\n",
		paths["tampered"], bad.Summary.Passed, bad.Summary.Failed, bad.Verdict)
	for _, it := range bad.Items {
		for _, f := range it.Findings {
			fmt.Fprintf(out, "     caught: %s %s\n", it.Path, f.Code)
		}
	}
	if good.Verdict != verify.Passed || bad.Summary.Failed != 2 || bad.Summary.Missing != 1 {
		return fmt.Errorf("demo: unexpected outcome (archive: %s, tampered failures: %d)", good.Verdict, bad.Summary.Failed)
	}
	if err := demoTrustedTime(out, filepath.Join(paths["pki"], "history"), filepath.Join(dir, "history")); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nReports (JSON and HTML): %s\nTry: tlseal audit --ca %s %s\n     tlseal audit --certstore %s --password-file %s %s\n     tlseal extract %s -o original.wav\n",
		paths["reports"], caPath, paths["tampered"], storePath, pwPath, paths["archive"], filepath.Join(paths["archive"], "files", "rec-0001.wav"))
	return nil
}

// demoRecorder writes the sample files as a recorder does: the WAV in small
// pieces over about a second (the watcher must wait for it to complete), the
// events written to a temporary name and renamed into place.
func demoRecorder(ctx context.Context, dir string, names []string, files map[string][]byte) error {
	for _, name := range names {
		data, path := files[name], filepath.Join(dir, name)
		if filepath.Ext(name) == ".wav" {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			for off := 0; off < len(data); off += 4096 {
				if _, err := f.Write(data[off:min(off+4096, len(data))]); err != nil {
					f.Close()
					return err
				}
				select {
				case <-ctx.Done():
					f.Close()
					return ctx.Err()
				case <-time.After(time.Second / time.Duration(len(data)/4096+1)):
				}
			}
			if err := f.Close(); err != nil {
				return err
			}
			continue
		}
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}

// demoAudit audits an archive and writes prefix.json and prefix.html.
func demoAudit(ctx context.Context, dir string, trust *verify.Trust, prefix string) (*report.Report, error) {
	res, err := verify.Archive(ctx, dir, trust, verify.ArchiveOptions{})
	if err != nil {
		return nil, err
	}
	rep := report.New([]string{"tlseal", "audit", dir}, trust, time.Now())
	rep.AddArchive(res)
	rep.Finish(time.Now())
	for ext, write := range map[string]func(io.Writer, *report.Report) error{".json": report.WriteJSON, ".html": report.WriteHTML} {
		if err := atomicWrite(prefix+ext, func(w io.Writer) error { return write(w, rep) }); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func atomicWrite(path string, write func(io.Writer) error) error {
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	return f.Commit(true)
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
	// A random passphrase, as text: what --password-file reads (a
	// trailing newline is not part of it).
	password := []byte(rand.Text())
	if err := os.WriteFile(pwPath, append(bytes.Clone(password), '\n'), 0o600); err != nil {
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
