"""The local AWS emulator (moto server), with two fixes for differences from AWS that matter here.

1. Isolation. moto applies `TransactWriteItems` by deep-copying the tables it touches, applying
   the items, and restoring the copies if any condition fails. Under its threaded server, a failing
   transaction's restore silently erases every write other requests made in between, which real
   DynamoDB never does (seen: a user created by one transaction vanished when a concurrent one was
   cancelled). So every DynamoDB backend operation takes one lock: DynamoDB requests apply one at a
   time, while SQS long polls and Secrets Manager still run concurrently.
2. Cost. The deep copy is of whole tables, on every transaction: time and memory grow with the
   table (seen: 12 GB of RSS and minutes per thousand users). With the lock, only the items a
   transaction names can change, so only those are snapshotted and restored on failure.

See docs/local-aws.md.
"""
import copy
import functools
import inspect
import sys
import threading
import types

import moto.dynamodb.models as ddb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.server import main

_lock = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)

    return wrapper


# moto's transaction code snapshots whole tables with copy.deepcopy; make that a no-op for tables
# (the item-level snapshot below replaces it) and leave every other deep copy as it was.
ddb_models.copy = types.SimpleNamespace(
    deepcopy=lambda value, memo=None: value if isinstance(value, Table) else copy.deepcopy(value, memo),
    copy=copy.copy,
)

_original_transact = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    snapshot = []
    for entry in transact_items:
        op = next(iter(entry.values()), {}) if isinstance(entry, dict) else {}
        table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue
        key = op.get("Key") or op.get("Item") or {}
        hash_raw = key.get(table.hash_key_attr)
        if hash_raw is None:
            continue
        hash_value = DynamoType(hash_raw)
        if table.range_key_attr:
            range_raw = key.get(table.range_key_attr)
            if range_raw is None:
                continue
            range_value = DynamoType(range_raw)
            current = table.items[hash_value].get(range_value) if hash_value in table.items else None
        else:
            range_value = None
            current = table.items.get(hash_value)
        snapshot.append((table, hash_value, range_value, copy.deepcopy(current)))
    try:
        return _original_transact(self, transact_items)
    except Exception:
        for table, hash_value, range_value, item in reversed(snapshot):
            if table.range_key_attr:
                if item is None:
                    if hash_value in table.items:
                        table.items[hash_value].pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = item
            elif item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        raise


DynamoDBBackend.transact_write_items = _transact_write_items

for _name, _method in inspect.getmembers(DynamoDBBackend, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _serialised(_method))

if __name__ == "__main__":
    main(sys.argv[1:])
