package archive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveS3 pins where each S3 setting comes from: the environment,
// then the storage block, then the AWS shared config file's profile.
func TestResolveS3(t *testing.T) {
	const config = `[default]
region = eu-west-1
endpoint_url = http://default.example:9000

[profile rgw]
region = us-east-1
endpoint_url = http://profile.example:7480
s3 =
  addressing_style = path

[profile nested]
endpoint_url = http://profile.example:7480
s3 =
  endpoint_url = http://nested.example:7480
  addressing_style = virtual

[profile svc]
endpoint_url = http://profile.example:7480
services = evidence

[services evidence]
s3 =
  endpoint_url = http://services.example:9000

[profile ignoring]
endpoint_url = http://profile.example:7480
ignore_configured_endpoint_urls = true

[profile badstyle]
s3 =
  addressing_style = sideways
`
	tests := []struct {
		name     string
		env      map[string]string
		storage  S3Settings
		config   string // "" uses the one above; "-" is no file
		want     s3Client
		errMatch string
	}{
		{name: "no file, nothing set", config: "-", want: s3Client{endpoint: "https://s3.amazonaws.com"}},
		{name: "default profile", want: s3Client{endpoint: "http://default.example:9000", region: "eu-west-1"}},
		{name: "AWS_PROFILE", env: map[string]string{"AWS_PROFILE": "rgw"},
			want: s3Client{endpoint: "http://profile.example:7480", region: "us-east-1", addressing: "path", profile: "rgw"}},
		{name: "storage block's profile", storage: S3Settings{Profile: "rgw"},
			want: s3Client{endpoint: "http://profile.example:7480", region: "us-east-1", addressing: "path", profile: "rgw"}},
		{name: "s3 sub-section wins over the profile", env: map[string]string{"AWS_PROFILE": "nested"},
			want: s3Client{endpoint: "http://nested.example:7480", addressing: "virtual", profile: "nested"}},
		{name: "services section wins over the profile", env: map[string]string{"AWS_PROFILE": "svc"},
			want: s3Client{endpoint: "http://services.example:9000", profile: "svc"}},
		{name: "storage block wins over the file", env: map[string]string{"AWS_PROFILE": "rgw"},
			storage: S3Settings{Endpoint: "http://block.example", Region: "ap-south-1", Addressing: "virtual"},
			want:    s3Client{endpoint: "http://block.example", region: "ap-south-1", addressing: "virtual", profile: "rgw"}},
		{name: "environment wins over everything",
			env:     map[string]string{"AWS_PROFILE": "rgw", "AWS_ENDPOINT_URL_S3": "http://env-s3.example", "AWS_ENDPOINT_URL": "http://env.example", "AWS_REGION": "sa-east-1", "TLSEAL_S3_ADDRESSING": "virtual"},
			storage: S3Settings{Endpoint: "http://block.example", Region: "ap-south-1", Addressing: "path"},
			want:    s3Client{endpoint: "http://env-s3.example", region: "sa-east-1", addressing: "virtual", profile: "rgw"}},
		{name: "AWS_ENDPOINT_URL", env: map[string]string{"AWS_ENDPOINT_URL": "http://env.example", "AWS_DEFAULT_REGION": "ca-central-1"},
			want: s3Client{endpoint: "http://env.example", region: "ca-central-1"}},
		{name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", env: map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true", "AWS_ENDPOINT_URL_S3": "http://env-s3.example"},
			want: s3Client{endpoint: "https://s3.amazonaws.com", region: "eu-west-1"}},
		{name: "ignored endpoints keep the storage block's", env: map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, storage: S3Settings{Endpoint: "http://block.example"},
			want: s3Client{endpoint: "http://block.example", region: "eu-west-1"}},
		{name: "profile that ignores configured endpoints", env: map[string]string{"AWS_PROFILE": "ignoring"},
			want: s3Client{endpoint: "https://s3.amazonaws.com", profile: "ignoring"}},
		{name: "profile not in the file", env: map[string]string{"AWS_PROFILE": "absent"},
			want: s3Client{endpoint: "https://s3.amazonaws.com", profile: "absent"}},
		{name: "bad addressing_style", env: map[string]string{"AWS_PROFILE": "badstyle"}, errMatch: `addressing_style is "sideways"`},
		{name: "file that does not parse", config: "[default\nregion = x\n", errMatch: "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "TLSEAL_S3_ADDRESSING", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
				t.Setenv(k, tt.env[k])
			}
			file := filepath.Join(t.TempDir(), "config")
			switch tt.config {
			case "-":
			case "":
				os.WriteFile(file, []byte(config), 0o600)
			default:
				os.WriteFile(file, []byte(tt.config), 0o600)
			}
			t.Setenv("AWS_CONFIG_FILE", file)
			saved := s3Settings
			t.Cleanup(func() { s3Settings = saved })
			if err := ConfigureS3(tt.storage); err != nil {
				t.Fatal(err)
			}
			got, err := resolveS3()
			if tt.errMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errMatch) {
					t.Fatalf("error %v, want one with %q", err, tt.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.endpointFrom = ""
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
