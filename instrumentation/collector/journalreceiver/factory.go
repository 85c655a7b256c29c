package journalreceiver // import "github.com/abstractcore/abstractcore-secrets/instrumentation/collector/journalreceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

var componentType = component.MustNewType("journal")

// NewFactory returns the factory of the journal receiver (type "journal", logs, alpha).
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		componentType,
		createDefaultConfig,
		receiver.WithLogs(createLogs, component.StabilityLevelAlpha),
	)
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newJournalReceiver(set, cfg.(*Config), next)
}
