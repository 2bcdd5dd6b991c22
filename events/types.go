package events

import (
	"regexp"
	"strings"

	"github.com/folioledger/folio"
)

// Event types. A payout state change is "payout." and the state it moved
// to (PayoutType); a configuration change is "config." and the audit
// log's action ("config.program.put", "config.key.revoke", …).
const (
	TypeEntryPosted    = "entry.posted"
	TypeAccrualCreated = "accrual.created"
)

// Families of event types: a types filter may name a family ("payout")
// for all its types.
var families = []string{"entry", "accrual", "payout", "config"}

// payoutStates maps the payout actions of the audit log to the state a
// batch (or its lines, or its delivery to the exchange) moved to.
var payoutStates = map[string]string{
	"payout.build":            "draft",
	"payout.approve":          "approved",
	"payout.reject":           "rejected",
	"payout.execute":          "executed",
	"payout.clear":            "lines_cleared",
	"payout.reject_lines":     "lines_rejected",
	"payout.outbox.delivered": "delivered",
	"payout.outbox.refused":   "refused",
}

// auditType is the event type of an audit record's action: payout.<state>
// for payout decisions, config.<action> for the rest.
func auditType(action string) string {
	if st, ok := payoutStates[action]; ok {
		return "payout." + st
	}
	if rest, ok := strings.CutPrefix(action, "payout."); ok {
		return "payout." + strings.ReplaceAll(rest, ".", "_")
	}
	return "config." + action
}

var typePattern = regexp.MustCompile(`^[a-z]+(\.[a-z_]+)*$`)

// ParseTypes parses a types filter: a comma-separated list of event types
// or families (entry, accrual, payout, config); "" is every type. A type
// outside the four families, or not shaped like one, is invalid_request.
func ParseTypes(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		family, _, _ := strings.Cut(t, ".")
		known := false
		for _, f := range families {
			known = known || f == family
		}
		if len(t) > 64 || !typePattern.MatchString(t) || !known ||
			family == "entry" && t != "entry" && t != TypeEntryPosted ||
			family == "accrual" && t != "accrual" && t != TypeAccrualCreated {
			return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"types"},
				Message: "types is a comma-separated list of event types (entry.posted, accrual.created, payout.<state>, config.<action>) or families (entry, accrual, payout, config)"}
		}
		out = append(out, t)
	}
	if len(out) > 32 {
		return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"types"}, Message: "types lists at most 32 types"}
	}
	return out, nil
}

// matchType reports whether typ is selected by types (nil: every type).
func matchType(types []string, typ string) bool {
	if types == nil {
		return true
	}
	family, _, _ := strings.Cut(typ, ".")
	for _, t := range types {
		if t == typ || t == family {
			return true
		}
	}
	return false
}

// wantsFamily reports whether types selects any type of family.
func wantsFamily(types []string, family string) bool {
	if types == nil {
		return true
	}
	for _, t := range types {
		if f, _, _ := strings.Cut(t, "."); f == family {
			return true
		}
	}
	return false
}
