#!/usr/bin/env python3
"""Writes the starting corpus of each fuzz target from the project's own samples.

The webhook fixtures, the labelled complaints and a few amounts are turned into inputs in the
layout each target reads (a selector byte, then the bytes under test). The photo samples are
committed under fuzz/seeds/photo_scrubber/ (written by the scrubber's sample generators).
Usage: seed.py <corpus root>
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "shared/tests/fixtures/webhooks"
SHOPIFY_TOPICS = ["orders/create", "orders/updated", "fulfillments/create",
                  "fulfillments/update", "returns/request", "refunds/create"]
WOO_TOPICS = ["order.created", "order.updated"]


def write(corpus: pathlib.Path, target: str, name: str, data: bytes) -> None:
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def main() -> None:
    corpus = pathlib.Path(sys.argv[1])
    for headers in sorted(FIXTURES.glob("*.headers.json")):
        stem = headers.name[: -len(".headers.json")]
        body = FIXTURES / (stem + ".json")
        if not body.exists():
            body = FIXTURES / (stem + ".txt")
        raw = body.read_bytes()
        meta = json.loads(headers.read_text())
        if stem.startswith("shopify"):
            topic = meta["X-Shopify-Topic"]
            write(corpus, "shopify_webhook", stem, bytes([SHOPIFY_TOPICS.index(topic)]) + raw)
        elif stem.startswith("woocommerce"):
            topic = meta.get("X-WC-Webhook-Topic", "order.created")
            selector = WOO_TOPICS.index(topic) if topic in WOO_TOPICS else 0
            write(corpus, "woocommerce_webhook", stem, bytes([selector]) + raw)
        elif stem.startswith("generic"):
            write(corpus, "generic_webhook", stem, raw)
        write(corpus, "webhook_signature", stem, bytes([6]) + b"secret" + bytes([0]) + raw)
    labelled = (ROOT / "shared/data/labelled_complaints.jsonl").read_text(encoding="utf-8")
    for number, line in enumerate(labelled.splitlines()):
        if line.strip():
            text = json.loads(line)["text"]
            write(corpus, "complaint_classifier", f"labelled-{number}",
                  bytes([number % 3]) + text.encode("utf-8"))
    for number, amount in enumerate(["19.99", "0.01", "-5.00", "1,299.00", "9223372036854775807",
                                     "1e3", " 12.5 ", "0.001", "１２"]):
        write(corpus, "money_amount", f"amount-{number}", bytes([number]) + amount.encode())


if __name__ == "__main__":
    main()
