package periods

import (
	"fmt"
	"time"

	"github.com/folioledger/folio"
)

// Month is an accounting period: a calendar month in UTC.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth parses "YYYY-MM" exactly (four digits, a hyphen, two digits,
// month 01–12, year 2000–9999); anything else is invalid_request.
func ParseMonth(s string) (Month, error) {
	bad := func() (Month, error) {
		return Month{}, &folio.Error{Code: folio.EINVALID, Fields: []string{"period"},
			Message: "a period is a month written YYYY-MM, such as 2026-03"}
	}
	if len(s) != 7 || s[4] != '-' {
		return bad()
	}
	for i, c := range []byte(s) {
		if i == 4 {
			continue
		}
		if c < '0' || c > '9' {
			return bad()
		}
	}
	y := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	n := int(s[5]-'0')*10 + int(s[6]-'0')
	if y < 2000 || n < 1 || n > 12 {
		return bad()
	}
	return Month{y, time.Month(n)}, nil
}

// MonthOf is the month holding t (in UTC).
func MonthOf(t time.Time) Month {
	t = t.UTC()
	return Month{t.Year(), t.Month()}
}

func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// From is the period's first instant.
func (m Month) From() time.Time { return time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, time.UTC) }

// To is the instant after the period (the next month's From).
func (m Month) To() time.Time { return m.From().AddDate(0, 1, 0) }

// Next is the following month.
func (m Month) Next() Month { return MonthOf(m.To()) }

// Prev is the preceding month.
func (m Month) Prev() Month { return MonthOf(m.From().AddDate(0, -1, 0)) }

// Before reports whether m is earlier than o.
func (m Month) Before(o Month) bool { return m.From().Before(o.From()) }
