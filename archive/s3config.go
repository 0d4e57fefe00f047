package archive

import (
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/ini.v1"
)

// newS3Client makes the client of an s3:// location from the usual
// places, nothing secret on the command line (docs/archive.md, "Archives on
// object storage"). Each setting is taken from the first place that has
// it: the environment, then the configuration file's storage block
// (ConfigureS3), then the AWS shared config file of the profile, as the AWS
// tools let the environment win over their files (resolveS3):
//
//   - the endpoint: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
//     storage.s3.endpoint, the shared config's endpoint_url (of the
//     profile's services section for s3, of its s3 sub-section, of the
//     profile), else AWS S3 (https://s3.amazonaws.com); http:// endpoints
//     are used without TLS. AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or
//     ignore_configured_endpoint_urls in the profile) drops the AWS
//     environment's and shared config's endpoints.
//   - the region: AWS_REGION, AWS_DEFAULT_REGION, storage.s3.region, the
//     profile's region, else found by the client
//   - addressing: TLSEAL_S3_ADDRESSING, storage.s3.addressing, the
//     profile's s3 addressing_style (path, virtual or auto), else virtual
//     hosts on AWS and paths elsewhere
//   - the profile: AWS_PROFILE, storage.s3.profile, else default; the
//     shared config file is AWS_CONFIG_FILE, else ~/.aws/config
//   - credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
//     AWS_SESSION_TOKEN), else the profile's in the shared credentials
//     and config files (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials),
//     else the instance's or pod's role (IAM)
//
// S3Settings are the object store settings of a configuration file's
// storage block (tlseal --config): used where the environment sets
// nothing, as the AWS tools let the environment win over their files.
// There is no place for secrets: credentials come from the environment,
// the shared credentials file (Profile names its profile) or the role.
type S3Settings struct {
	Endpoint   string `json:"endpoint"`   // http[s]://HOST[:PORT]
	Region     string `json:"region"`     // e.g. eu-central-1
	Addressing string `json:"addressing"` // path or virtual (default: by endpoint)
	Profile    string `json:"profile"`    // of the shared credentials file
}

var s3Settings S3Settings

// ConfigureS3 sets the configuration file's object store settings for the
// S3 clients this process makes from then on.
func ConfigureS3(s S3Settings) error {
	switch strings.ToLower(s.Addressing) {
	case "", "path", "virtual":
	default:
		return errorf(ReasonInvalidArgument, "", nil, "storage.addressing is %q: path or virtual", s.Addressing)
	}
	s3Settings = s
	return nil
}

// s3Transport, when set (tests: faults on the network), carries the S3
// clients' requests.
var s3Transport http.RoundTripper

// s3MaxRetries, when set (tests), bounds the client's retries of a failed
// request (default: minio-go's, 10 with backoff).
var s3MaxRetries int

// s3Client are the settings newS3Client resolved, with where the
// endpoint came from (for errors).
type s3Client struct {
	endpoint, endpointFrom string
	region, addressing     string
	profile                string
}

// resolveS3 takes each setting from the environment, the storage block
// and the shared config file, in that order (newS3Client).
func resolveS3() (s3Client, error) {
	profile := cmpOr(os.Getenv("AWS_PROFILE"), s3Settings.Profile)
	shared, err := loadSharedConfig(profile)
	if err != nil {
		return s3Client{}, err
	}
	c := s3Client{profile: profile}
	ignoreAWS := strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") || shared.ignoreEndpoints
	for _, e := range []struct {
		value, from string
		aws         bool
	}{
		{os.Getenv("AWS_ENDPOINT_URL_S3"), "AWS_ENDPOINT_URL_S3", true},
		{os.Getenv("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL", true},
		{s3Settings.Endpoint, "storage.s3.endpoint of the configuration file", false},
		{shared.endpoint, "endpoint_url in " + shared.file, true},
		{"https://s3.amazonaws.com", "the default", false},
	} {
		if e.value != "" && !(e.aws && ignoreAWS) {
			c.endpoint, c.endpointFrom = e.value, e.from
			break
		}
	}
	c.region = cmpOr(firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"), cmpOr(s3Settings.Region, shared.region))
	c.addressing = strings.ToLower(cmpOr(os.Getenv("TLSEAL_S3_ADDRESSING"), cmpOr(s3Settings.Addressing, shared.addressing)))
	return c, nil
}

// sharedConfig is what tlseal reads of a profile in the AWS shared config
// file; minio-go reads its credentials itself.
type sharedConfig struct {
	file            string // the file read ("" if there is none)
	region          string
	endpoint        string
	addressing      string // "path", "virtual" or "" (auto)
	ignoreEndpoints bool
}

// loadSharedConfig reads the profile ("" is default) of AWS_CONFIG_FILE or
// ~/.aws/config, as the AWS CLI does: the section [default] or
// [profile NAME]; region, endpoint_url, ignore_configured_endpoint_urls;
// the nested s3 sub-section's endpoint_url and addressing_style; and a
// services = NAME reference to [services NAME], whose s3 sub-section's
// endpoint_url wins over the profile's. A missing file or profile is no
// error (the environment or the storage block may say everything); a file
// that does not parse is: settings of a lower place must not be used in
// silence instead.
func loadSharedConfig(profile string) (sharedConfig, error) {
	file := os.Getenv("AWS_CONFIG_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return sharedConfig{}, nil
		}
		file = filepath.Join(home, ".aws", "config")
	}
	f, err := ini.LoadSources(ini.LoadOptions{AllowNestedValues: true}, file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sharedConfig{}, nil
	case err != nil:
		return sharedConfig{}, errorf(ReasonInvalidArgument, file, err, "the AWS shared config file (AWS_CONFIG_FILE or ~/.aws/config) does not parse")
	}
	sc := sharedConfig{file: file}
	if profile == "" {
		profile = "default"
	}
	sec := section(f, "profile "+profile)
	if sec == nil {
		sec = section(f, profile) // [default], and the credentials file's style
	}
	if sec == nil {
		return sc, nil
	}
	sc.region = sec.Key("region").String()
	sc.endpoint = sec.Key("endpoint_url").String()
	sc.ignoreEndpoints = strings.EqualFold(sec.Key("ignore_configured_endpoint_urls").String(), "true")
	s3 := nested(sec, "s3")
	if v := s3["endpoint_url"]; v != "" {
		sc.endpoint = v
	}
	switch style := strings.ToLower(s3["addressing_style"]); style {
	case "", "auto":
	case "path", "virtual":
		sc.addressing = style
	default:
		return sharedConfig{}, errorf(ReasonInvalidArgument, file, nil, "profile %s: s3 addressing_style is %q: path, virtual or auto", profile, s3["addressing_style"])
	}
	if name := sec.Key("services").String(); name != "" {
		if svc := section(f, "services "+name); svc != nil {
			if v := nested(svc, "s3")["endpoint_url"]; v != "" {
				sc.endpoint = v
			}
		}
	}
	return sc, nil
}

func section(f *ini.File, name string) *ini.Section {
	sec, err := f.GetSection(name)
	if err != nil {
		return nil
	}
	return sec
}

// nested returns the KEY = VALUE lines indented under key (an AWS
// sub-section such as "s3 =").
func nested(sec *ini.Section, key string) map[string]string {
	m := map[string]string{}
	if !sec.HasKey(key) {
		return m
	}
	for _, line := range sec.Key(key).NestedValues() {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

func newS3Client(loc s3Location) (*minio.Client, error) {
	cfg, err := resolveS3()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return nil, errorf(ReasonInvalidArgument, loc.String(), err, "the S3 endpoint %q (from %s) must be http://HOST[:PORT] or https://HOST[:PORT]", cfg.endpoint, cfg.endpointFrom)
	}
	lookup := minio.BucketLookupAuto
	switch cfg.addressing {
	case "":
	case "path":
		lookup = minio.BucketLookupPath
	case "virtual":
		lookup = minio.BucketLookupDNS
	default:
		return nil, errorf(ReasonInvalidArgument, loc.String(), nil, "TLSEAL_S3_ADDRESSING is %q: path or virtual", cfg.addressing)
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		// No file named: minio-go merges the shared config and credentials
		// files of the profile, as the AWS SDKs do.
		&credentials.FileAWSCredentials{Profile: cfg.profile},
		&credentials.IAM{},
	})
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       cfg.region,
		BucketLookup: lookup,
		Transport:    s3Transport,
		MaxRetries:   s3MaxRetries,
	})
	if err != nil {
		return nil, errorf(ReasonInvalidArgument, loc.String(), err, "the S3 client")
	}
	return c, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
