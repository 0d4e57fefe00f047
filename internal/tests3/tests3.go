// Package tests3 runs a real S3 server for tests: SeaweedFS's `weed mini`
// (Apache-2.0), which enforces S3 Object Lock (compliance and governance
// retention) as AWS documents it, on loopback ports with fresh credentials
// and a temporary data directory. Test support only.
//
// The binary is TLSEAL_S3_SERVER, or the one .ci/s3server builds into the
// user's cache directory. Without it the test is skipped with the command
// that builds it, unless TLSEAL_REQUIRE_S3=1 (CI sets it): then it fails.
package tests3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the SeaweedFS module version .ci/s3server builds.
const Version = "v0.0.0-20261109003541-7506e5f91cd6"

// BuildCommand is what makes the server binary.
const BuildCommand = ".ci/s3server (builds SeaweedFS's weed once, about 5 minutes; then TLSEAL_S3_SERVER=$(.ci/s3server))"

// binaryPath is where the server binary is expected.
func binaryPath() string {
	if bin := os.Getenv("TLSEAL_S3_SERVER"); bin != "" {
		return bin
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	return filepath.Join(cache, "tlseal", "weed-"+Version, "weed")
}

// Available reports whether the server binary is there (or required:
// under TLSEAL_REQUIRE_S3=1 a test that asks for it fails without it), for
// tests that add S3 checks to checks of their own without skipping those.
func Available() bool {
	if os.Getenv("TLSEAL_REQUIRE_S3") == "1" {
		return true
	}
	st, err := os.Stat(binaryPath())
	return err == nil && !st.IsDir()
}

// Binary returns the server binary, or skips (fails under
// TLSEAL_REQUIRE_S3=1) the test when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	bin := binaryPath()
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		if os.Getenv("TLSEAL_REQUIRE_S3") == "1" {
			t.Fatalf("the S3 test server %s is missing: build it with %s", bin, BuildCommand)
		}
		t.Skipf("the S3 test server (SeaweedFS weed) %s is missing: build it with %s; TLSEAL_REQUIRE_S3=1 makes this a failure", bin, BuildCommand)
	}
	return bin
}

// Server is a running S3 server.
type Server struct {
	Endpoint  string // host:port of the S3 API, on 127.0.0.1
	AccessKey string
	SecretKey string
	Dir       string // the server's data directory
	Client    *minio.Client

	bin   string
	args  []string
	env   []string
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	log   *os.File
	count int // buckets made
}

// Start starts a server of the test's own, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir, err := tempDir()
	if err != nil {
		t.Fatalf("tests3: %v", err)
	}
	s, err := start(bin, dir)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("tests3: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
	})
	return s
}

var shared struct {
	sync.Once
	s   *Server
	err error
}

// Shared returns the process's server, started on first use (a test binary
// starts one server, not one per test). It dies with the test process.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	shared.Do(func() {
		dir, err := tempDir()
		if err != nil {
			shared.err = err
			return
		}
		shared.s, shared.err = start(bin, dir)
	})
	if shared.err != nil {
		t.Fatalf("tests3: %v", shared.err)
	}
	return shared.s
}

// tempDir makes a server's data directory, named after this process, and
// removes those of test processes that are gone (a shared server's
// directory outlives its test binary, whose exit stops the server: no
// test is left to remove it; a killed test binary leaves its own too).
func tempDir() (string, error) {
	prefix := "tlseal-s3-"
	if old, err := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*-*")); err == nil {
		for _, d := range old {
			pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), prefix), "-")
			pid, err := strconv.Atoi(pidText)
			if err != nil || pid == os.Getpid() || processAlive(pid) {
				continue
			}
			os.RemoveAll(d)
		}
	}
	return os.MkdirTemp("", fmt.Sprintf("%s%d-", prefix, os.Getpid()))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freePorts finds a base port p such that p, p+1, ..., p+n-1 and each
// plus 10000 (SeaweedFS derives its gRPC ports so) are free on loopback.
func freePorts(n int) (int, error) {
	for attempt := 0; attempt < 200; attempt++ {
		var b [2]byte
		rand.Read(b[:])
		base := 15000 + int(b[0])<<8%12000 + int(b[1])%200
		ok := true
		for i := 0; i < n && ok; i++ {
			for _, p := range []int{base + i, base + i + 10000} {
				l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
				if err != nil {
					ok = false
					break
				}
				l.Close()
			}
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no free loopback ports")
}

func start(bin, dir string) (*Server, error) {
	base, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  "127.0.0.1:" + strconv.Itoa(base+3),
		AccessKey: "tlseal" + randomHex(6),
		SecretKey: randomHex(20),
		Dir:       dir,
		bin:       bin,
	}
	s.args = []string{"mini",
		"-dir=" + filepath.Join(dir, "data"),
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + strconv.Itoa(base),
		"-volume.port=" + strconv.Itoa(base+1),
		"-filer.port=" + strconv.Itoa(base+2),
		"-s3.port=" + strconv.Itoa(base+3),
		"-admin.port=" + strconv.Itoa(base+4),
		"-admin.port.legacy=0",
		"-admin.ui=false", "-webdav=false",
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-master.telemetry=false",
		"-s3.autoCreateBucket=false",
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3.localSocket=" + filepath.Join(dir, "s3.sock"),
	}
	s.env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s.AccessKey, "AWS_SECRET_ACCESS_KEY="+s.SecretKey)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	s.Client, err = minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, err
	}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// Restart starts the server again after Kill or Stop, on the same ports
// and data directory, and waits until it serves.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("the server is running")
	}
	log, err := os.OpenFile(filepath.Join(s.Dir, "weed.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Env = s.env
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.log = cmd, done, log
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := s.Client.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.cmd = nil
			log.Close()
			return fmt.Errorf("weed mini exited before serving S3 (log: %s): %s", log.Name(), tail(log.Name()))
		default:
		}
		if time.Now().After(deadline) {
			s.stopLocked(syscall.SIGKILL)
			return fmt.Errorf("weed mini did not serve S3 on %s within 90 s (last error: %v): %s", s.Endpoint, err, tail(log.Name()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGTERM)
}

// Kill kills the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGKILL)
}

func (s *Server) stopLocked(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
	s.cmd = nil
}

// Bucket makes a new bucket with a unique name; with lock, Object Lock is
// enabled on it (which also turns on versioning).
func (s *Server) Bucket(t testing.TB, lock bool) string {
	t.Helper()
	s.mu.Lock()
	s.count++
	name := fmt.Sprintf("t%d-%s", s.count, randomHex(4))
	s.mu.Unlock()
	name = strings.ToLower(name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client.MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: lock}); err != nil {
		t.Fatalf("tests3: making bucket %s: %v", name, err)
	}
	return name
}

// Env is the environment a tlseal process needs to reach the server (the
// AWS_* variables the archive's S3 driver reads).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_ENDPOINT_URL_S3=http://" + s.Endpoint,
		"AWS_REGION=us-east-1",
	}
}

// Setenv points this process's S3 driver at the server for the test.
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// SetenvProcess points the whole process's S3 clients at the server (for
// the Shared server, from tests that may run in parallel, where t.Setenv
// is not allowed).
func (s *Server) SetenvProcess() {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
}
