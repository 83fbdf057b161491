"""A small service reporting to Klaxon through the real Sentry SDK (sentry_sdk_test.sh).

Handled exceptions with tags and a user, one with a custom fingerprint, a logging error, and
at the end an unhandled crash that the SDK's excepthook reports before the process exits 1.
"""
import logging
import os

import sentry_sdk

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    release="shop@1.2.3",
    environment="test",
    shutdown_timeout=10,
)
sentry_sdk.set_tag("service", "orders-api")
sentry_sdk.set_user({"id": "u-17", "email": "ada@example.com"})


def parse_quantity(text):
    return int(text)


for bad in ["three", "", "4.5"]:
    try:
        parse_quantity(bad)
    except ValueError:
        sentry_sdk.capture_exception()

with sentry_sdk.new_scope() as scope:
    scope.fingerprint = ["payment-timeout"]
    try:
        {}["payment"]
    except KeyError:
        sentry_sdk.capture_exception()

logging.getLogger("orders.db").error("database %s unreachable", "orders-db")
sentry_sdk.flush()

1 / 0  # unhandled: reported by the SDK's excepthook
