package watch

import (
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier receives service manager notifications (sd_notify(3) states:
// "READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...").
type Notifier interface {
	Notify(state string) error
	// WatchdogInterval is how often the service manager expects
	// "WATCHDOG=1" (0: no watchdog).
	WatchdogInterval() time.Duration
}

// SystemdNotifier notifies systemd through $NOTIFY_SOCKET (a no-op when it is
// not set, e.g. outside a Type=notify unit).
type SystemdNotifier struct{}

// Notify sends one state.
func (SystemdNotifier) Notify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// WatchdogInterval reads $WATCHDOG_USEC (for this process).
func (SystemdNotifier) WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}
