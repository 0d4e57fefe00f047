package report_test

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/color"
	imagepng "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/report"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

// sampleReport verifies three real sealed files: one intact, one tampered,
// one by a signer of an untrusted CA.
func sampleReport(t testing.TB) *report.Report {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.CA(t, testpki.Options{})
	good := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
	other := testpki.Signer(t, testpki.Leaf(t, testpki.CA(t, testpki.Options{CN: "Other CA"}), testpki.Options{CN: "stranger <script>"}))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seal := func(in, out string, s *timeline.Signer) string {
		o := filepath.Join(dir, out)
		if _, err := timeline.SealFile(in, o, false, timeline.SealOptions{Name: out, Signer: s}); err != nil {
			t.Fatal(err)
		}
		return o
	}
	ev := write("event.json", samples.EventJSON(1, time.Now(), "rec.wav"))
	wav := write("rec.wav", samples.WAV(8000, 0.2, 440))
	paths := []string{seal(ev, "a-event.sealed.json", good), seal(wav, "b-rec.sealed.wav", good), seal(ev, "c-stranger.json", other)}
	data, _ := os.ReadFile(paths[1])
	data[300] ^= 1
	os.WriteFile(paths[1], data, 0o644)

	trust := verify.NewTrust([]*x509.Certificate{ca.Cert})
	r := report.New([]string{"tlseal", "verify", dir}, trust, time.Now())
	r.Case = &report.Case{ID: "CASE-42", Examiner: "J. Doe", Notes: "seized disk <b>copy</b>"}
	for _, p := range paths {
		res, err := verify.File(p, trust)
		if err != nil {
			t.Fatal(err)
		}
		r.Add(res)
	}
	r.Finish(time.Now())
	return r
}

func TestJSONReportMatchesSchema(t *testing.T) {
	r := sampleReport(t)
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	validate(t, buf.Bytes())
	if r.Verdict != verify.Failed || r.Summary.Passed != 1 || r.Summary.Failed != 1 || r.Summary.Indeterminate != 1 {
		t.Errorf("summary %+v verdict %s", r.Summary, r.Verdict)
	}
	// The schema is strict enough to catch a malformed report.
	var doc map[string]any
	json.Unmarshal(buf.Bytes(), &doc)
	doc["verdict"] = "maybe"
	bad, _ := json.Marshal(doc)
	if err := schema(t).Validate(mustJSON(t, bad)); err == nil {
		t.Error("schema accepted verdict \"maybe\"")
	}
}

func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	s, err := c.Compile("../docs/report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJSON(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// validate checks a JSON report against docs/report.schema.json.
func validate(t *testing.T, b []byte) {
	t.Helper()
	if err := schema(t).Validate(mustJSON(t, b)); err != nil {
		t.Fatalf("report does not match the schema: %v\n%s", err, b)
	}
}

func TestHTMLReport(t *testing.T) {
	r := sampleReport(t)
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	// Self-contained: nothing is loaded from anywhere.
	if regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:|//)`).MatchString(html) {
		t.Error("the HTML report references external resources")
	}
	// Failures on top, then indeterminate, then passed.
	iFail := strings.Index(html, "b-rec.sealed.wav")
	iInd := strings.Index(html, "c-stranger.json")
	iPass := strings.Index(html, "a-event.sealed.json")
	if !(iFail < iInd && iInd < iPass) {
		t.Errorf("item order: failed@%d indeterminate@%d passed@%d", iFail, iInd, iPass)
	}
	// Summary before the items; untrusted text is escaped.
	if strings.Index(html, `id="summary"`) > strings.Index(html, `id="items"`) {
		t.Error("summary is not first")
	}
	if strings.Contains(html, "stranger <script>") || strings.Contains(html, "<b>copy</b>") {
		t.Error("certificate subject or notes not escaped")
	}
	for _, want := range []string{"CASE-42", "J. Doe", "content.digestMismatch", "cert.untrusted",
		"<title>tlseal verify report: failed</title>", "<h1>tlseal verify report</h1>", "The seal says", "Measured"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// The tampered file: what the seal says beside what was measured,
	// the measured cell marked; the intact ones not.
	if n := strings.Count(html, `class="digest mismatch"`); n != 1 {
		t.Errorf("%d measured cells marked as differing, want 1 (the tampered WAV)", n)
	}
	tampered := r.Items[1]
	if tampered.Measured == nil || tampered.Measured.SHA256 == tampered.SHA256 || !strings.Contains(html, tampered.Measured.SHA256) || !strings.Contains(html, tampered.SHA256) {
		t.Errorf("the tampered file's measured digest is not shown beside the sealed one")
	}
	// A warning on an item is shown on it and counted in the summary.
	if !strings.Contains(html, `<span class="warn">1 warning</span>`) || !strings.Contains(html, "<dt>Warnings</dt><dd>1</dd>") {
		t.Error("the warning is not visible on its item and in the summary")
	}
}

func TestReportTitle(t *testing.T) {
	for cmd, want := range map[string]string{
		"tlseal verify --ca ca.pem x.json":   "verify report",
		"tlseal audit --ca ca.pem ev":        "audit report",
		"tlseal audit merge s0.json s1.json": "audit merge report",
		"tlseal audit ev":                    "audit report",
		"tlseal verify case/":                "verify report",
		"":                                   "report",
	} {
		if got := report.Title(cmd); got != want {
			t.Errorf("Title(%q) = %q, want %q", cmd, got, want)
		}
	}
}

// TestHTMLReportRendersInChromium opens the report in headless Chromium
// and checks the rendered page, filter script included.
func TestHTMLReportRendersInChromium(t *testing.T) {
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is required in CI (installed by .ci/run)")
		}
		t.Skip("chromium not installed")
	}
	r := sampleReport(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	report.WriteHTML(&buf, r)
	os.WriteFile(path, buf.Bytes(), 0o644)
	dom := func(query string) string {
		cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+path+query)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		return string(out)
	}
	all := dom("")
	if !strings.Contains(all, "3 of 3 items shown") {
		t.Errorf("rendered page lacks the filter status:\n%s", all)
	}
	filtered := dom("?filter=digestMismatch")
	if !strings.Contains(filtered, "1 of 3 items shown") {
		t.Errorf("filter did not apply:\n%s", filtered)
	}
	if !regexp.MustCompile(`<tr class="item" style="display: none;">[^<]*<td><span class="verdict passed">`).MatchString(filtered) {
		t.Errorf("passed row not hidden by the filter")
	}
	// Screenshots at a desktop and a narrow width: the page renders (an
	// image of that size, not blank). TLSEAL_SCREENSHOT_DIR keeps them.
	shots := cmp.Or(os.Getenv("TLSEAL_SCREENSHOT_DIR"), dir)
	for _, width := range []int{1280, 480} {
		png := filepath.Join(shots, fmt.Sprintf("report-%d.png", width))
		cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
			"--user-data-dir="+filepath.Join(dir, "profile"), fmt.Sprintf("--window-size=%d,1400", width), "--screenshot="+png, "file://"+path)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium screenshot: %v\n%s", err, out)
		}
		f, err := os.Open(png)
		if err != nil {
			t.Fatal(err)
		}
		img, err := imagepng.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != width {
			t.Errorf("screenshot %d px wide, want %d", b.Dx(), width)
		}
		colors := map[color.RGBA]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y += 7 {
			for x := b.Min.X; x < b.Max.X; x += 7 {
				r, g, bl, _ := img.At(x, y).RGBA()
				colors[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 0}] = true
			}
		}
		// Text, the verdict colours, table lines: a rendered report has
		// many colours; a blank or error page a few.
		if len(colors) < 20 {
			t.Errorf("screenshot at %d px: %d colours, looks blank", width, len(colors))
		}
	}
}

func TestJUnitReport(t *testing.T) {
	r := sampleReport(t)
	var buf bytes.Buffer
	if err := report.WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suite    struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Skipped != 1 {
		t.Errorf("tests %d failures %d skipped %d", doc.Tests, doc.Failures, doc.Skipped)
	}
	for _, c := range doc.Suite.Cases {
		if strings.HasSuffix(c.Name, "b-rec.sealed.wav") && (c.Failure == nil || c.Failure.Message != "content.digestMismatch") {
			t.Errorf("tampered WAV case: %+v", c.Failure)
		}
	}
}

func TestTextReport(t *testing.T) {
	r := sampleReport(t)
	var buf bytes.Buffer
	report.WriteText(&buf, r)
	out := buf.String()
	for _, want := range []string{"FAILED", "INDETERMINATE", "PASSED", "3 item(s): 1 passed, 1 failed, 1 indeterminate, 1 warning; verdict: failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}
