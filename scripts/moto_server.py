"""The local AWS emulator (moto server), with one fix for a difference from AWS that matters here.

moto applies `TransactWriteItems` by deep-copying the tables it touches, applying the items, and
restoring the copies if any condition fails. Under its threaded server, a failing transaction's
restore silently erases every write other requests made to the table in between, which real
DynamoDB never does (measured: a user created by one transaction vanished when a concurrent one
was cancelled). So every DynamoDB backend operation takes one lock: DynamoDB requests are applied
one at a time, as if serialised, while SQS long polls and Secrets Manager still run concurrently.
See docs/local-aws.md.
"""
import functools
import inspect
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_lock = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)

    return wrapper


for _name, _method in inspect.getmembers(DynamoDBBackend, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _serialised(_method))

if __name__ == "__main__":
    main(sys.argv[1:])
