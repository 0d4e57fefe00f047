package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/tlseal/tlseal/archive"
)

// applyStorageConfig reads the storage block of --config, if any: the
// object store's endpoint, region, addressing and credentials profile for
// s3:// archives (docs/archive.md, "Archives on object storage"). The
// environment wins over it. Its members are checked strictly, so that a
// secret put there (an access key) is an error, not silently used.
func (o *rootOptions) applyStorageConfig() error {
	if o.configFile == "" {
		return nil
	}
	data, err := os.ReadFile(o.configFile)
	if err != nil {
		return fmt.Errorf("config %s: %w", o.configFile, err)
	}
	var top struct {
		Storage json.RawMessage `json:"storage"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return fmt.Errorf("config %s: %w", o.configFile, err)
	}
	if len(top.Storage) == 0 || string(top.Storage) == "null" {
		return nil
	}
	var block struct {
		S3 *archive.S3Settings `json:"s3"`
	}
	dec := json.NewDecoder(bytes.NewReader(top.Storage))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&block); err != nil {
		return fmt.Errorf("config %s: storage: %w (it takes s3{endpoint, region, addressing, profile}; credentials come from the environment or ~/.aws/credentials)", o.configFile, err)
	}
	if block.S3 == nil {
		return nil
	}
	if err := archive.ConfigureS3(*block.S3); err != nil {
		return fmt.Errorf("config %s: %w", o.configFile, err)
	}
	return nil
}
