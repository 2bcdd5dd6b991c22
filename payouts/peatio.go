package payouts

import (
	"encoding/json"
	"slices"
	"strings"
)

// Peatio (openware) is the open-source exchange whose management API
// (server-to-server, /api/v2/management) many exchanges run. A payout batch
// maps onto one call of it, "POST /api/v2/management/transfers/new": one
// transfer per batch, one operation per paid line, each moving the line's
// amount from the exchange's expense account to the affiliate's liability
// account in Peatio's own double-entry books (debit account_src, credit
// account_dst):
//
//	{
//	  "key": "pb_…",                          // the batch id: Peatio refuses a second transfer with the same key
//	  "category": "commission",               // PeatioOptions.Category
//	  "description": "Folio payout batch pb_…",
//	  "operations": [
//	    {"currency": "usdt", "amount": "50",  // Peatio's currency id (lower case), the line's exact amount as a string
//	     "account_src": {"code": 402},        // main crypto expenses (401 for a fiat currency)
//	     "account_dst": {"code": 202, "uid": "ID0000000A"}} // the affiliate's main crypto liabilities (201 for fiat)
//	  ]
//	}
//
// The account codes are Peatio's default chart (seed accounts.yml: 201/202
// main fiat/crypto liabilities, kept per member; 401/402 main fiat/crypto
// expenses) and can be changed in PeatioOptions; a holder must be the
// member's Peatio UID (PeatioOptions.UID maps Folio's holder ids when they
// differ). Peatio's management API authenticates a call by a JWT: the
// deployment's signer wraps this body as the JWT's payload with the
// management key Peatio trusts (general JWS serialization, {"payload",
// "signatures"}); that key never reaches Folio. A 201 answer confirms the
// payout (the outbox posts the entry), a 422 refuses it (the outbox voids
// it), as with any transfer API (DeliverOutbox).
type PeatioOptions struct {
	Category string // transfer category; default "commission"
	// Expense and liability account codes for crypto currencies (default
	// 402 and 202) and for FiatCurrencies (default 401 and 201).
	CryptoExpense, CryptoLiability int
	FiatExpense, FiatLiability     int
	FiatCurrencies                 []string // Folio currency ids that Peatio keeps as fiat
	// UID maps a Folio holder to its Peatio member UID; nil: the same id.
	UID func(holder string) string
}

// PeatioTransfer is the body of POST /api/v2/management/transfers/new.
type PeatioTransfer struct {
	Key         string            `json:"key"`
	Category    string            `json:"category"`
	Description string            `json:"description"`
	Operations  []PeatioOperation `json:"operations"`
}

// PeatioOperation moves Amount of Currency from AccountSrc to AccountDst.
type PeatioOperation struct {
	Currency   string        `json:"currency"`
	Amount     string        `json:"amount"`
	AccountSrc PeatioAccount `json:"account_src"`
	AccountDst PeatioAccount `json:"account_dst"`
}

// PeatioAccount is an account of Peatio's chart; UID names the member of a
// per-member account.
type PeatioAccount struct {
	Code int    `json:"code"`
	UID  string `json:"uid,omitempty"`
}

// PeatioTransferPath is the management API route a batch is sent to.
const PeatioTransferPath = "/api/v2/management/transfers/new"

// ToPeatio maps an outbox message (an executed batch's paid lines) onto
// the management API call: the method, the path and the JSON body.
func ToPeatio(msg OutboxMessage, o PeatioOptions) (method, path string, body []byte) {
	if o.Category == "" {
		o.Category = "commission"
	}
	if o.CryptoExpense == 0 {
		o.CryptoExpense = 402
	}
	if o.CryptoLiability == 0 {
		o.CryptoLiability = 202
	}
	if o.FiatExpense == 0 {
		o.FiatExpense = 401
	}
	if o.FiatLiability == 0 {
		o.FiatLiability = 201
	}
	t := PeatioTransfer{Key: msg.BatchID, Category: o.Category, Description: "Folio payout batch " + msg.BatchID, Operations: []PeatioOperation{}}
	for _, l := range msg.Lines {
		src, dst := o.CryptoExpense, o.CryptoLiability
		if slices.Contains(o.FiatCurrencies, l.Currency) {
			src, dst = o.FiatExpense, o.FiatLiability
		}
		uid := l.Holder
		if o.UID != nil {
			uid = o.UID(l.Holder)
		}
		t.Operations = append(t.Operations, PeatioOperation{Currency: strings.ToLower(l.Currency), Amount: l.Amount,
			AccountSrc: PeatioAccount{Code: src}, AccountDst: PeatioAccount{Code: dst, UID: uid}})
	}
	body, _ = json.Marshal(t)
	return "POST", PeatioTransferPath, body
}
