package archive

import (
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// newS3Client makes the client of an s3:// location from the usual
// places, nothing secret on the command line (docs/archive.md, "Archives on
// object storage"):
//
//   - the endpoint: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS S3
//     (https://s3.amazonaws.com); http:// endpoints are used without TLS
//   - the region: AWS_REGION, else AWS_DEFAULT_REGION, else found by the
//     client
//   - credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
//     AWS_SESSION_TOKEN), else the shared credentials file
//     (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile
//     AWS_PROFILE), else the instance's or pod's role (IAM)
//   - addressing: TLSEAL_S3_ADDRESSING=path or virtual; by default virtual
//     hosts on AWS and paths elsewhere
//
// Where the environment sets nothing, the configuration file's storage
// block (ConfigureS3) gives the endpoint, region, addressing and profile.
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

func newS3Client(loc s3Location) (*minio.Client, error) {
	endpoint := firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	if endpoint == "" {
		endpoint = s3Settings.Endpoint
	}
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return nil, errorf(ReasonInvalidArgument, loc.String(), err, "the S3 endpoint %q (AWS_ENDPOINT_URL_S3) must be http://HOST[:PORT] or https://HOST[:PORT]", endpoint)
	}
	lookup := minio.BucketLookupAuto
	addressing := os.Getenv("TLSEAL_S3_ADDRESSING")
	if addressing == "" {
		addressing = s3Settings.Addressing
	}
	switch strings.ToLower(addressing) {
	case "":
	case "path":
		lookup = minio.BucketLookupPath
	case "virtual":
		lookup = minio.BucketLookupDNS
	default:
		return nil, errorf(ReasonInvalidArgument, loc.String(), nil, "TLSEAL_S3_ADDRESSING is %q: path or virtual", addressing)
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Profile: cmpOr(os.Getenv("AWS_PROFILE"), s3Settings.Profile)},
		&credentials.IAM{},
	})
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       cmpOr(firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"), s3Settings.Region),
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
