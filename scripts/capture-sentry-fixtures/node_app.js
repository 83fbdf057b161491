// Raises real errors through @sentry/node (SENTRY_DSN from the environment). argv[2]: a scenario.
const Sentry = require("@sentry/node");

Sentry.init({ release: "orders@1.4.2", environment: "production" });
Sentry.setTag("service", "orders-api");
Sentry.setUser({ id: 42, email: "ada@example.com" });

function loadOrder(id) {
  const order = null;
  return order.total; // TypeError, in-app
}

function charge(id) {
  try {
    loadOrder(id);
  } catch (e) {
    throw new Error(`cannot charge order ${id}`, { cause: e });
  }
}

async function main() {
  if (process.argv[2] === "handled") {
    try { loadOrder(7); } catch (e) { Sentry.captureException(e); }
    try { charge(8); } catch (e) { Sentry.captureException(e); }
    try { charge(10); } catch (e) {
      Sentry.withScope((scope) => {
        scope.setFingerprint(["orders", "payment-gateway-down"]);
        Sentry.captureException(e);
      });
    }
    Sentry.captureMessage("payment for order 12 failed after 3 tries", "error");
    await Sentry.flush(5000);
  } else {
    setTimeout(() => loadOrder(14), 0); // unhandled: onUncaughtException, handled: false
  }
}
main();
