// Raises real errors through sentry-go (SENTRY_DSN from the environment). os.Args[1]: a scenario.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/getsentry/sentry-go"
)

type NotFoundError struct{ ID int }

func (e *NotFoundError) Error() string { return fmt.Sprintf("order %d not found", e.ID) }

func loadOrder(id int) error { return &NotFoundError{ID: id} }

func charge(id int) error {
	if err := loadOrder(id); err != nil {
		return fmt.Errorf("cannot charge order %d: %w", id, err) // chained
	}
	return nil
}

func main() {
	_ = sentry.Init(sentry.ClientOptions{Release: "orders@1.4.2", Environment: "production",
		AttachStacktrace: true})
	defer sentry.Flush(5 * time.Second)
	sentry.ConfigureScope(func(scope *sentry.Scope) {
		scope.SetTag("service", "orders-api")
		scope.SetUser(sentry.User{ID: "42", Email: "ada@example.com"})
	})
	switch os.Args[1] {
	case "handled":
		sentry.CaptureException(loadOrder(7))
		sentry.CaptureException(charge(8))
		sentry.WithScope(func(scope *sentry.Scope) {
			scope.SetFingerprint([]string{"orders", "payment-gateway-down"})
			sentry.CaptureException(charge(10))
		})
		sentry.CaptureMessage("payment for order 12 failed after 3 tries")
	case "crash":
		defer func() {
			if r := recover(); r != nil {
				sentry.CurrentHub().Recover(r) // what sentry.Recover and the HTTP middlewares do
				sentry.Flush(5 * time.Second)
				panic(r)
			}
		}()
		var orders map[string]*NotFoundError
		fmt.Println(orders["x"].ID) // nil pointer dereference
	}
}
