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
// s3Transport, when set (tests: faults on the network), carries the S3
// clients' requests.
var s3Transport http.RoundTripper

// s3MaxRetries, when set (tests), bounds the client's retries of a failed
// request (default: minio-go's, 10 with backoff).
var s3MaxRetries int

func newS3Client(loc s3Location) (*minio.Client, error) {
	endpoint := firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return nil, errorf(ReasonInvalidArgument, loc.String(), err, "the S3 endpoint %q (AWS_ENDPOINT_URL_S3) must be http://HOST[:PORT] or https://HOST[:PORT]", endpoint)
	}
	lookup := minio.BucketLookupAuto
	switch strings.ToLower(os.Getenv("TLSEAL_S3_ADDRESSING")) {
	case "":
	case "path":
		lookup = minio.BucketLookupPath
	case "virtual":
		lookup = minio.BucketLookupDNS
	default:
		return nil, errorf(ReasonInvalidArgument, loc.String(), nil, "TLSEAL_S3_ADDRESSING is %q: path or virtual", os.Getenv("TLSEAL_S3_ADDRESSING"))
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{},
	})
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"),
		BucketLookup: lookup,
		Transport:    s3Transport,
		MaxRetries:   s3MaxRetries,
	})
	if err != nil {
		return nil, errorf(ReasonInvalidArgument, loc.String(), err, "the S3 client")
	}
	return c, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
