// Package journalreceiver tails the abstractcore-secrets audit journal (hash-chained JSON
// lines) and ships each record as an OpenTelemetry log record, exactly once across
// collector restarts when a storage extension holds its checkpoint.
package journalreceiver // import "github.com/abstractcore/abstractcore-secrets/instrumentation/collector/journalreceiver"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
)

const (
	// StartAtBeginning ships every record the journal (and its rotated archives) holds.
	StartAtBeginning = "beginning"
	// StartAtEnd ships only records appended after the receiver first opened the journal.
	StartAtEnd = "end"

	defaultPollInterval = 200 * time.Millisecond
	defaultMaxBatch     = 1000
)

// Config is the journal receiver's configuration.
type Config struct {
	// Path is the journal file (required). Rotated archives are the files named
	// "<name>.<first seq, 12 digits>" in the same folder.
	Path string `mapstructure:"path"`

	// Storage is the ID of a storage extension (e.g. file_storage) that keeps the
	// checkpoint: the last shipped journal seq. Without it the checkpoint lives in
	// memory only and a restart ships again from StartAt.
	Storage *component.ID `mapstructure:"storage"`

	// PollInterval is how often the journal is checked for new lines once it has been
	// read to its end.
	PollInterval time.Duration `mapstructure:"poll_interval"`

	// MaxBatch is the largest number of records sent downstream in one call.
	MaxBatch int `mapstructure:"max_batch"`

	// StartAt is where to begin when no checkpoint is stored: "beginning" (default)
	// or "end". Ignored once a checkpoint exists.
	StartAt string `mapstructure:"start_at"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{
		PollInterval: defaultPollInterval,
		MaxBatch:     defaultMaxBatch,
		StartAt:      StartAtBeginning,
	}
}

// Validate checks the configuration; it reports every problem at once.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Path == "" {
		errs = append(errs, errors.New("path is required: the audit journal file to tail"))
	}
	if cfg.StartAt != StartAtBeginning && cfg.StartAt != StartAtEnd {
		errs = append(errs, fmt.Errorf("start_at must be %q or %q, not %q", StartAtBeginning, StartAtEnd, cfg.StartAt))
	}
	if cfg.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("poll_interval must be positive, not %s", cfg.PollInterval))
	}
	if cfg.MaxBatch <= 0 {
		errs = append(errs, fmt.Errorf("max_batch must be positive, not %d", cfg.MaxBatch))
	}
	return errors.Join(errs...)
}
