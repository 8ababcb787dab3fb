package mpesa

import (
	"net/http"
	"strings"
)

// Code describes one documented gateway response code.
type Code struct {
	Gateway Gateway
	// Code is the response code ("INS-2006", "500.002.1001", "1032").
	Code string
	// HTTPStatus is the status the documents pair with the code, 0 when
	// the code arrives in a callback rather than an answer.
	HTTPStatus int
	// Description is the documented description.
	Description string
	// Kind is the sentinel the code maps to, nil when none fits.
	Kind error
}

// LookupCode returns what the documents say of a response code on a gateway
// and, where a product gives the code a meaning of its own, for that API. A
// success code may be written "INS-0" or "0".
func LookupCode(g Gateway, api API, code string) (Code, bool) {
	if !g.valid() {
		return Code{}, false
	}
	e, ok := gateways[g].codes.lookup(api, code)
	e.info.Gateway = g
	return e.info, ok
}

// codeEntry is one row of a gateway's code table.
type codeEntry struct {
	api  API // 0: the code means the same for every API
	info Code
	// unknownOutcome marks a code that says nothing about how a payment
	// ended (Mozambique INS-23 "Unknown Status").
	unknownOutcome bool
}

// codeTable is the code table of one gateway: the rows of particular APIs
// first, then the general ones.
type codeTable []codeEntry

// lookup finds code for api, preferring a row of that API. "0" is the
// iPG tables' "INS-0" unless the table has a row "0" of its own (Daraja).
func (t codeTable) lookup(api API, code string) (codeEntry, bool) {
	code = strings.TrimSpace(code)
	if code == "0" && !t.has("0") {
		code = "INS-0"
	}
	for _, e := range t {
		if e.api == api && e.info.Code == code {
			return e, true
		}
	}
	for _, e := range t {
		if e.api == 0 && e.info.Code == code {
			if code == "INS-0" && !api.isQuery() {
				// The product tables pair success with 201 on every POST
				// and PUT (Mozambique: "200 / 201"), 200 on the GETs.
				e.info.HTTPStatus = http.StatusCreated
			}
			return e, true
		}
	}
	return codeEntry{}, false
}

// has reports whether the table has a row for code, of any API.
func (t codeTable) has(code string) bool {
	for _, e := range t {
		if e.info.Code == code {
			return true
		}
	}
	return false
}

// isSuccessCode reports whether a response or result code means success.
func isSuccessCode(code string) bool {
	code = strings.TrimSpace(code)
	return code == "INS-0" || code == "0"
}

// row returns a general row of a code table.
func row(code string, status int, desc string, kind error) codeEntry {
	return codeEntry{info: Code{Code: code, HTTPStatus: status, Description: desc, Kind: kind}}
}

// apiRow returns a row that holds for one API only.
func apiRow(api API, code string, status int, desc string, kind error) codeEntry {
	e := row(code, status, desc, kind)
	e.api = api
	return e
}
