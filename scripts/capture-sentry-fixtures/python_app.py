"""Raises real errors through sentry-sdk (SENTRY_DSN from the environment). argv[1]: a scenario."""
import logging
import sys

import sentry_sdk


def load_order(order_id):
    return {"id": order_id}["total"]  # KeyError, in-app


def charge(order_id):
    try:
        load_order(order_id)
    except KeyError as e:
        raise RuntimeError(f"cannot charge order {order_id}") from e  # chained


def refund(order_id):
    return {"id": order_id}["refund"]  # the same KeyError type from another in-app frame


sentry_sdk.init(release="orders@1.4.2", environment="production", default_integrations=True)
sentry_sdk.set_tag("service", "orders-api")
sentry_sdk.set_user({"id": "42", "email": "ada@example.com"})

scenario = sys.argv[1]
if scenario == "handled":
    try:
        load_order(7)
    except KeyError:
        sentry_sdk.capture_exception()
    try:
        charge(8)
    except RuntimeError:
        sentry_sdk.capture_exception()
    try:
        refund(9)
    except KeyError:
        sentry_sdk.capture_exception()
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["orders", "payment-gateway-down"]
        try:
            charge(10)
        except RuntimeError:
            sentry_sdk.capture_exception()
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["{{ default }}", "eu-west-1"]
        try:
            load_order(11)
        except KeyError:
            sentry_sdk.capture_exception()
    logging.getLogger("orders.worker").error("payment for order %s failed after %d tries", 12, 3)
    sentry_sdk.flush()
elif scenario == "again":
    # The same error as the first of "handled", from another process.
    try:
        load_order(13)
    except KeyError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush()
elif scenario == "crash":
    load_order(14)  # unhandled: sys.excepthook reports it with handled: false
