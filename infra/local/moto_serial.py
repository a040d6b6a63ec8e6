"""moto_server for the local twin: the same app, one request at a time.

moto's own server runs requests in threads, and its DynamoDB evaluates a write's condition
and applies the write without a lock, so two concurrent conditional writes (or
transactions) can both succeed where DynamoDB lets exactly one through. Serialising requests
restores that guarantee; connections are still accepted concurrently.

Two costs of moto that grow with the data are patched out, so a backlog of tens of thousands
of cases (tests/sla/backlog.rs, `make bench`) runs in minutes, with moto's answers unchanged:

- DynamoDB TransactWriteItems deep-copies every table it touches, to roll back on failure:
  seconds per transaction once a table holds tens of thousands of items. It backs up the items
  the transaction touches instead (requests are serialised, so nothing else changes them).
- SQS SendMessage(Batch) on a FIFO queue reads the queue's attributes, which count every
  message on the queue three times, and compares each message's deduplication id with every
  message on the queue: quadratic in the messages on the queue. Sending no longer counts, and
  deduplication ids are looked up in an index (a duplicate of a message still on the queue,
  sent within the deduplication interval, is dropped, as before).

Usage: python moto_serial.py -H 127.0.0.1 -p 5000
"""

import argparse
import copy
import threading

import moto.dynamodb.models as dynamodb_models
import moto.sqs.models as sqs_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class _TablesNotCopied:
    """`copy` as moto's DynamoDB backend sees it: a whole table is not deep-copied."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _item_key(table, op_type, op):
    attrs = op.get("Item") if op_type == "Put" else op.get("Key")
    if not attrs or table.hash_key_attr not in attrs:
        return None
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = None
    if table.range_key_attr:
        if table.range_key_attr not in attrs:
            return None
        range_key = DynamoType(attrs[table.range_key_attr])
    return hash_key, range_key


def _patch_transactions():
    dynamodb_models.copy = _TablesNotCopied()
    transact = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        before = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            key = table is not None and _item_key(table, op_type, op)
            if key:
                before.append((table, key, copy.deepcopy(table.get_item(*key))))
        try:
            return transact(self, transact_items)
        except Exception:
            for table, (hash_key, range_key), item in reversed(before):
                if item is None:
                    table.delete_item(hash_key, range_key)
                elif range_key is not None:
                    table.items[hash_key][range_key] = item
                else:
                    table.items[hash_key] = item
            raise

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


def _patch_fifo_sends():
    sending = threading.local()

    def count_unless_sending(name):
        count = getattr(sqs_models.Queue, name).fget
        return property(lambda queue: 0 if getattr(sending, "on", False) else count(queue))

    for name in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    ):
        setattr(sqs_models.Queue, name, count_unless_sending(name))

    def while_sending(send):
        def wrapper(*args, **kwargs):
            sending.on = True
            try:
                return send(*args, **kwargs)
            finally:
                sending.on = False

        return wrapper

    backend = sqs_models.SQSBackend
    backend.send_message = while_sending(backend.send_message)
    backend.send_message_batch = while_sending(backend.send_message_batch)

    add = sqs_models.Queue.add_message

    def add_message(self, message):
        dedup_id = message.deduplication_id
        if not (self.fifo_queue and dedup_id):
            return add(self, message)
        sent = self.__dict__.setdefault("_sent_by_deduplication_id", {})
        for earlier in sent.get(dedup_id, ()):
            age = (message.sent_timestamp - earlier.sent_timestamp) / 1000
            if age < sqs_models.DEDUPLICATION_TIME_IN_SECONDS and any(
                m is earlier for m in self._messages
            ):
                return None
        sent.setdefault(dedup_id, []).append(message)
        if self.attributes.get("ContentBasedDeduplication") == "true":
            return add(self, message)
        # Without content-based deduplication moto compares ids only when the message has
        # one: done above, so the message is added as one without.
        message.deduplication_id = None
        try:
            return add(self, message)
        finally:
            message.deduplication_id = dedup_id

    sqs_models.Queue.add_message = add_message


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()

    _patch_transactions()
    _patch_fifo_sends()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # Produce the whole body inside the lock: the request is handled as one step.
            return list(app(environ, start_response))

    run_simple(
        args.host,
        args.port,
        one_at_a_time,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
