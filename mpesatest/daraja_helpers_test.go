package mpesatest_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// djClient returns a Daraja client of srv, configured by Options.
func djClient(t *testing.T, srv *mpesatest.Server, extra ...mpesa.Option) *mpesa.Client {
	t.Helper()
	opts := append(srv.Options(mpesa.GatewayDaraja), fastRetries...)
	c, err := mpesa.NewClient(srv.APIKey(), append(opts, extra...)...)
	require.NoError(t, err)
	return c
}

// recorder is an application's callback server, independent of
// mpesa.Handler: it records every body POSTed to it and answers what
// answer says, by default the acknowledgement the documents give for the
// path (docs/gateways.md D13, D28): /validation accepts, /confirmation
// answers {"ResultCode":0,"ResultDesc":"Success"}, any other path
// {"ResultCode":0,"ResultDesc":"Accepted"}.
type recorder struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	got    []posted
	answer func(path string, body map[string]any) (int, string)
}

// posted is one body a recorder received.
type posted struct {
	Path string
	Raw  []byte
	Body map[string]any
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// documentedAnswer is what a listener that follows the documents answers.
func documentedAnswer(path string, _ map[string]any) (int, string) {
	switch path {
	case "/validation":
		return 200, `{"ResultCode":"0","ResultDesc":"Accepted"}`
	case "/confirmation":
		return 200, `{"ResultCode":0,"ResultDesc":"Success"}`
	}
	return 200, `{"ResultCode":0,"ResultDesc":"Accepted"}`
}

func (r *recorder) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		r.t.Errorf("%s: body %q is not a JSON object: %v", req.URL.Path, raw, err)
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("%s %s with Content-Type %q", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	r.mu.Lock()
	r.got = append(r.got, posted{Path: req.URL.Path, Raw: raw, Body: body})
	answer := r.answer
	r.mu.Unlock()
	if answer == nil {
		answer = documentedAnswer
	}
	status, out := answer(req.URL.Path, body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

// url returns the URL of a path of the recorder.
func (r *recorder) url(path string) string { return r.srv.URL + path }

// answerWith replaces the recorder's answers.
func (r *recorder) answerWith(f func(path string, body map[string]any) (int, string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

// bodies returns the bodies posted to path, oldest first.
func (r *recorder) bodies(path string) []posted {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []posted
	for _, p := range r.got {
		if p.Path == path {
			out = append(out, p)
		}
	}
	return out
}

// dig walks a decoded body by keys; it fails the test when one is missing.
func dig(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		require.True(t, ok, "%q: %v is not an object", k, v)
		v, ok = m[k]
		require.True(t, ok, "%q missing in %v", k, m)
	}
	return v
}

// items reads a list of {Name|Key, Value} items, or a single one, into
// name → value text (JSON numbers as written), keeping the first of a
// repeated name.
func items(t *testing.T, v any) map[string]string {
	t.Helper()
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	default:
		t.Fatalf("items: %T %v", v, v)
	}
	out := map[string]string{}
	for _, e := range list {
		m := e.(map[string]any)
		name, _ := m["Name"].(string)
		if k, ok := m["Key"].(string); ok {
			name = k
		}
		if _, seen := out[name]; seen {
			continue
		}
		switch val := m["Value"].(type) {
		case string:
			out[name] = val
		case json.Number:
			out[name] = val.String()
		case nil:
			out[name] = ""
		}
	}
	return out
}

// djRaw speaks to the simulator's Daraja paths without the SDK.
type djRaw struct {
	t     *testing.T
	srv   *mpesatest.Server
	token string
}

func newDJRaw(t *testing.T, srv *mpesatest.Server) *djRaw {
	c := &djRaw{t: t, srv: srv}
	c.token = c.newToken()
	return c
}

func basicAuth(key, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))
}

// newToken asks for an access token.
func (c *djRaw) newToken() string {
	c.t.Helper()
	status, out := c.do(http.MethodGet, "/oauth/v1/generate?grant_type=client_credentials", nil, func(r *http.Request) {
		r.Header.Set("Authorization", basicAuth(c.srv.APIKey(), string(c.srv.Daraja().ConsumerSecret)))
	})
	require.Equal(c.t, http.StatusOK, status, out)
	tok, _ := out["access_token"].(string)
	require.NotEmpty(c.t, tok)
	return tok
}

// post sends a JSON body with the token and the JSON media type.
func (c *djRaw) post(path string, body any) (int, map[string]any) {
	c.t.Helper()
	return c.do(http.MethodPost, path, body, nil)
}

// do sends a request; edit changes it before it goes.
func (c *djRaw) do(method, path string, body any, edit func(*http.Request)) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.srv.URL()+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := c.srv.Client().Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		require.NoError(c.t, dec.Decode(&out), "answer %q", data)
	}
	return resp.StatusCode, out
}

// eatZone is UTC+3, the zone of Daraja's timestamps.
var eatZone = time.FixedZone("EAT", 3*60*60)

// stkPassword is base64(shortcode + passkey + timestamp).
func stkPassword(srv *mpesatest.Server, ts string) string {
	d := srv.Daraja()
	return base64.StdEncoding.EncodeToString([]byte(d.Shortcode + string(d.Passkey) + ts))
}

// stkBody is a valid STK push to msisdn with its callback to url.
func stkBody(srv *mpesatest.Server, msisdn, amount, url string) map[string]string {
	ts := time.Now().In(eatZone).Format("20060102150405")
	d := srv.Daraja()
	return map[string]string{
		"BusinessShortCode": d.Shortcode, "Password": stkPassword(srv, ts), "Timestamp": ts,
		"TransactionType": "CustomerPayBillOnline", "Amount": amount, "PartyA": msisdn, "PartyB": d.Shortcode,
		"PhoneNumber": msisdn, "CallBackURL": url, "AccountReference": "INV-1042", "TransactionDesc": "Shoes",
	}
}

// credential encrypts the initiator password as a client does, with
// PKCS #1 v1.5 or, to show what Daraja refuses, OAEP.
func credential(t *testing.T, srv *mpesatest.Server, password string, oaep bool) string {
	t.Helper()
	pub, err := mpesa.ParsePublicKey(srv.PublicKey())
	require.NoError(t, err)
	var ct []byte
	if oaep {
		ct, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte(password), nil)
	} else {
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(password))
	}
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(ct)
}

// b2cBody is a valid B2C v3 request with its result to url.
func b2cBody(t *testing.T, srv *mpesatest.Server, originator, url string) map[string]string {
	d := srv.Daraja()
	return map[string]string{
		"OriginatorConversationID": originator, "InitiatorName": d.Initiator,
		"SecurityCredential": credential(t, srv, string(d.InitiatorPassword), false),
		"CommandID":          "BusinessPayment", "Amount": "100", "PartyA": "600996", "PartyB": mpesatest.DarajaMSISDNSuccess,
		"Remarks": "Salary", "QueueTimeOutURL": url + "/timeout", "ResultURL": url + "/result",
	}
}

// kinds lists the kinds of callbacks.
func kinds(cbs []mpesatest.Callback) string {
	var out []string
	for _, cb := range cbs {
		out = append(out, cb.Kind)
	}
	return strings.Join(out, ",")
}
