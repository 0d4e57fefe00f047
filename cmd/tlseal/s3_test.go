package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tlseal/tlseal/internal/tests3"
)

// s3EnvNames are the variables the S3 driver reads, passed to the
// programs the scripts run.
var s3EnvNames = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "S3_BUCKET", "S3_PLAIN_BUCKET", "S3_ENDPOINT", "AWS_ENDPOINT_URL",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}

// scriptS3Env points the scripts' S3 clients at the test S3 server
// (tests3, when it is there: the [s3] condition), with S3_BUCKET a bucket
// with Object Lock and S3_PLAIN_BUCKET one without, fresh for each script;
// without the server, at an address where nothing listens, so that no
// script ever reaches a real object store.
func scriptS3Env(t *testing.T, deadURL string) func(env *testscript.Env) error {
	if !tests3.Available() {
		return func(env *testscript.Env) error {
			env.Setenv("AWS_ENDPOINT_URL", deadURL)
			env.Setenv("AWS_ENDPOINT_URL_S3", deadURL)
			env.Setenv("AWS_ACCESS_KEY_ID", "nobody")
			env.Setenv("AWS_SECRET_ACCESS_KEY", "nothing")
			env.Setenv("AWS_REGION", "us-east-1")
			return nil
		}
	}
	srv := tests3.Shared(t)
	return func(env *testscript.Env) error {
		// The fallback endpoint too: a script that empties
		// AWS_ENDPOINT_URL_S3 still reaches no real store.
		env.Setenv("AWS_ENDPOINT_URL", deadURL)
		for _, kv := range srv.Env() {
			for i := 0; i < len(kv); i++ {
				if kv[i] == '=' {
					env.Setenv(kv[:i], kv[i+1:])
					break
				}
			}
		}
		env.Setenv("S3_ENDPOINT", "http://"+srv.Endpoint)
		env.Setenv("S3_BUCKET", srv.Bucket(t, true))
		env.Setenv("S3_PLAIN_BUCKET", srv.Bucket(t, false))
		return nil
	}
}
