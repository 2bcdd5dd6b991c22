package folio

import (
	"errors"
	"fmt"
)

// Stable error codes. They appear in API problem bodies and per-item batch
// results, and never change meaning once published.
const (
	EINVALID      = "invalid_request"
	EAMOUNT       = "invalid_amount"
	EUNBALANCED   = "unbalanced_entry"
	EACCOUNT      = "unknown_account"
	ECURRENCY     = "unknown_currency"
	EINSUFFICIENT = "insufficient_balance"
	EIDEMPOTENCY  = "idempotency_conflict"
	ENOTFOUND     = "not_found"
	EREVERSED     = "already_reversed"
	ECYCLE        = "cycle"
	ESELFREFERRAL = "self_referral"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ECONFLICT     = "conflict"
	ETOOLARGE     = "payload_too_large"
	EUNAVAILABLE  = "unavailable"
	EINTERNAL     = "internal"
)

// Error is a domain error with a stable code and a message safe to show to
// the caller. Fields optionally names the request fields concerned (for
// example the fields that differ in an idempotency conflict).
type Error struct {
	Code    string
	Message string
	Fields  []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text for internal errors (whose text must never reach a client).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
