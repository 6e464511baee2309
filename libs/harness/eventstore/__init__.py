"""Event store: append with expected version, read stream/all, subscriptions, migrations."""

from .migrate import EVENTSTORE_MIGRATIONS, migrate
from .snapshots import Snapshot, delete_snapshots, load_snapshot, save_snapshot
from .store import ConcurrencyError, EventStore
from .stream_locks import WRITERS_LOCK, StreamBusy, StreamLocks, locked_transaction
from .subscription import CatchUpSubscription, load_checkpoint, save_checkpoint

__all__ = [
    "EVENTSTORE_MIGRATIONS", "migrate", "ConcurrencyError", "EventStore",
    "CatchUpSubscription", "load_checkpoint", "save_checkpoint", "StreamBusy", "StreamLocks",
    "locked_transaction", "WRITERS_LOCK", "Snapshot", "load_snapshot", "save_snapshot",
    "delete_snapshots",
]
