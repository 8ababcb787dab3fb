package mpesa

import "github.com/mpesa-go/mpesa/internal/wire"

// darajaCallbacks reads and answers Daraja's callbacks. Daraja defines no
// body for the acknowledgement of a ResultURL or an STK CallBackURL; the
// answer is HTTP 200 with ResultCode 0 (docs/gateways.md D28).
var darajaCallbacks = callbackCodec{
	parse: func([]byte) (*Result, error) { return nil, errNotThisGateway },
	ack:   darajaAck,
}

// darajaAck is {"ResultCode":0,"ResultDesc":"Accepted"}, or with code 1 a
// refusal that asks for the result again.
func darajaAck(_ *Result, accepted bool, desc string) []byte {
	code := "1"
	if accepted {
		code, desc = "0", "Accepted"
	}
	buf := append(make([]byte, 0, 48+len(desc)), `{"ResultCode":`...)
	buf = append(buf, code...)
	buf = append(buf, `,"ResultDesc":`...)
	buf = wire.AppendString(buf, desc)
	return append(buf, '}')
}
